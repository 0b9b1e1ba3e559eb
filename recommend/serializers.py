"""Input and output serializers of the playlist API (docs/api.md). Inputs validate shape and bounds only;
meaning (embedding dimension, tag normalisation, served tracks) is checked by the services."""

from __future__ import annotations

import json
import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommend.export import FORMATS as EXPORT_FORMATS
from recommend.models import MAX_TAGS, TAG_MAX_LENGTH
from recommend.ranking import MERGE_METHODS

MAX_SIZE = 100
MAX_SEEDS = 64
MAX_EMBEDDING_DIM = 4096


@extend_schema_field(
    {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH}}
)
class TagListField(serializers.ListField):
    """A list of tags; in a multipart form also comma-separated (``tags=jazz,calm``) or repeated fields.

    Count and length are checked by :func:`recommend.tags.clean_tags` after normalisation, so the
    API answers with the specific codes ``too_many_tags`` / ``tag_too_long``; the schema still documents the bounds.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(allow_blank=True, trim_whitespace=True, max_length=1000))
        kwargs.setdefault("max_length", 1000)  # abuse guard only; the real bound is MAX_TAGS
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", list)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        form = hasattr(getattr(self.root, "initial_data", None), "getlist")  # multipart/form data, not JSON
        if isinstance(data, str):
            data = [data]
        if form and isinstance(data, list | tuple) and all(isinstance(item, str) for item in data):
            data = [part for item in data for part in item.split(",") if part.strip()]
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BINARY)
class ImageUploadField(serializers.FileField):
    """A file part; documented as binary (spectacular shows a plain FileField as a URI unless requests are split)."""


@extend_schema_field({"type": "array", "items": {"type": "number"}, "maxItems": MAX_EMBEDDING_DIM})
class EmbeddingField(serializers.Field):
    """A list of numbers. Finiteness and dimension are checked by the service (error code ``invalid_embedding``)."""

    default_error_messages = {
        "not_a_list": "Expected a list of numbers.",
        "not_a_number": "Item {index} is not a number.",
        "too_long": f"At most {MAX_EMBEDDING_DIM} numbers.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if len(data) > MAX_EMBEDDING_DIM:
            self.fail("too_long")
        values = []
        for index, item in enumerate(data):
            if isinstance(item, bool) or not isinstance(item, int | float):
                self.fail("not_a_number", index=index)
            try:
                values.append(float(item))
            except OverflowError:  # an integer too big for a float: not finite, the service says so
                values.append(math.inf)
        return values

    def to_representation(self, value):
        return list(value)


MAX_FILTER_VALUES = 50


def _names(help_text: str, max_length: int) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=max_length), required=False, default=list,
        max_length=MAX_FILTER_VALUES, help_text=help_text,
    )


class FiltersSerializer(serializers.Serializer):
    """What a playlist may hold (recommend/filters.py). Row filters run inside the ANN query; the caps in the
    diversifier. Unknown genres are not an error: they come back as ``notes`` (and an empty playlist when every
    genre asked for is unknown)."""

    genres = _names("Keep tracks whose genre or one of whose tags is one of these (case-insensitive).", 100)
    exclude_genres = _names("Drop tracks whose genre or one of whose tags is one of these.", 100)
    year_min = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9999,
                                        help_text="Earliest release year (tracks of unknown year are dropped).")
    year_max = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9999,
                                        help_text="Latest release year (tracks of unknown year are dropped).")
    max_duration_s = serializers.FloatField(required=False, allow_null=True, min_value=1.0, max_value=86400.0,
                                            help_text="Longest track in seconds (unknown durations are dropped).")
    exclude_artists = _names("Artists to leave out (case- and space-insensitive).", 300)
    max_per_album = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_SIZE,
                                             help_text="At most this many tracks of one album.")
    one_version_per_song = serializers.BooleanField(
        required=False, default=False,
        help_text="One version per song: same artist and title, ignoring case, punctuation and markers such as "
                  "'(Remastered)' or '- Live'.",
    )

    def validate(self, attrs):
        low, high = attrs.get("year_min"), attrs.get("year_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"year_max": "must not be before year_min"})
        return attrs


@extend_schema_field(FiltersSerializer)
class FiltersField(serializers.Field):
    """The filters object; in a multipart form, its JSON text (``filters={"genres": ["jazz"]}``)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError("filters must be a JSON object") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("filters must be an object")
        inner = FiltersSerializer(data=data)
        if not inner.is_valid():
            raise serializers.ValidationError(inner.errors)
        unknown = sorted(set(data) - set(inner.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown filter" for name in unknown})
        return inner.validated_data

    def to_representation(self, value):
        return value


class FromImageInputSerializer(serializers.Serializer):
    image = ImageUploadField(
        required=False, help_text="JPEG, PNG or WebP file (multipart/form-data). Exactly one of image/image_embedding."
    )
    image_embedding = EmbeddingField(
        required=False, help_text="The image's vector in the prior's condition space (JSON). L2-normalised here."
    )
    tags = TagListField(help_text=f"Text tags to steer towards (at most {MAX_TAGS}, each ≤ {TAG_MAX_LENGTH} chars).")
    size = serializers.IntegerField(default=20, min_value=1, max_value=MAX_SIZE, help_text="Playlist length.")
    seeds = serializers.IntegerField(default=16, min_value=1, max_value=MAX_SEEDS, help_text="Seeds from the prior.")
    guidance = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-1.0, max_value=8.0,
        help_text="Classifier-free guidance weight w (default: the checkpoint's tuned value).",
    )
    merge = serializers.ChoiceField(
        choices=MERGE_METHODS, required=False, allow_null=True, default=None,
        help_text="How per-seed lists are merged (default: settings.RECOMMEND_MERGE, round-robin).",
    )
    filters = FiltersField(required=False, help_text="Filters for this playlist; the session remembers them.")


class SteerInputSerializer(serializers.Serializer):
    tags = TagListField(help_text="Tags to steer towards (added to the session's tags).")
    avoid = TagListField(help_text="Tags to steer away from.")
    filters = FiltersField(required=False, help_text="New filters replacing the session's ({} clears them); "
                                                     "left out, the session's filters stay.")


class PushInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                 help_text="Name of the playlist on the server (default 'Diff4Steer <session> v<n>'); "
                                           "an existing playlist of that name is updated.")


class FeedbackInputSerializer(serializers.Serializer):
    liked = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                  max_length=200)
    skipped = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                    max_length=200)


class PlaylistExportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(EXPORT_FORMATS), help_text="The file format.")


# --- outputs ----------------------------------------------------------------------------------------------------


class TrackOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    artist = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    album = serializers.CharField()
    genre = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    url = serializers.CharField()


POINT_SCHEMA = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}


class PlaylistItemOutputSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1-based position.")
    score = serializers.FloatField(help_text="Cosine similarity of the track to the seed that found it.")
    seed = serializers.IntegerField(help_text="Index of the prior seed that retrieved the track.")
    tag = serializers.SerializerMethodField(
        help_text="The tag in force whose text embedding is closest to the track (the tag that pulled it); "
                  "null when no tag was in force."
    )
    point = serializers.SerializerMethodField(
        help_text="The track on the version's 2-D map (first two principal axes of seeds and tracks, in [-1, 1])."
    )
    track = TrackOutputSerializer()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_tag(self, item) -> str | None:
        return (item.playlist.explain or {}).get("tags", {}).get(str(item.track_id))

    @extend_schema_field({**POINT_SCHEMA, "nullable": True})
    def get_point(self, item) -> list[float] | None:
        return (item.playlist.explain or {}).get("tracks", {}).get(str(item.track_id))


class PlaylistOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    seed_points = serializers.SerializerMethodField(
        help_text="Each seed of the prior on the same 2-D map as the items' `point` (index = the items' `seed`)."
    )
    items = PlaylistItemOutputSerializer(many=True)
    notes = serializers.SerializerMethodField(help_text="What the listener should know, e.g. an unknown genre.")

    def get_notes(self, playlist) -> list[str]:
        return list((getattr(playlist, "params", None) or {}).get("notes", []))

    @extend_schema_field({"type": "array", "items": POINT_SCHEMA})
    def get_seed_points(self, playlist) -> list[list[float]]:
        return (playlist.explain or {}).get("seeds", [])


class PlaylistDetailOutputSerializer(PlaylistOutputSerializer):
    session = serializers.UUIDField(source="session_id")
    created_at = serializers.DateTimeField()
    params = serializers.DictField()


class SessionCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField(help_text="Send as X-Session-Token. Shown only here; store it.")


class SessionRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()


class FromImageOutputSerializer(serializers.Serializer):
    session = SessionCreatedSerializer()
    playlist = PlaylistOutputSerializer()


class SteerOutputSerializer(serializers.Serializer):
    session = SessionRefSerializer()
    playlist = PlaylistOutputSerializer()


class SteeringStateSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField())
    avoid = serializers.ListField(child=serializers.CharField())
    liked = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())


class SteeringEventOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    avoid = serializers.ListField(child=serializers.CharField())
    liked = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())
    playlist_version = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class PlaylistSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    params = serializers.DictField()


class SessionDetailOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    params = serializers.DictField()
    steering = SteeringStateSerializer(source="*")
    events = SteeringEventOutputSerializer(many=True)
    playlists = PlaylistSummarySerializer(many=True)


class FeedbackOutputSerializer(serializers.Serializer):
    session = SessionRefSerializer(source="*")
    steering = SteeringStateSerializer(source="*")


class PushSkippedSerializer(serializers.Serializer):
    track_id = serializers.IntegerField()
    source = serializers.CharField()
    reason = serializers.CharField()


class PushOutputSerializer(serializers.Serializer):
    server_playlist_id = serializers.CharField(help_text="The playlist's id on the Subsonic server.")
    name = serializers.CharField()
    created = serializers.BooleanField(help_text="False when a playlist of that name was updated.")
    pushed = serializers.ListField(child=serializers.IntegerField(), help_text="Catalog track ids, in order.")
    skipped = PushSkippedSerializer(many=True, help_text="Tracks from other sources.")


