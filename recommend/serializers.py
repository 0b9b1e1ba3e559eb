"""Input and output serializers of the playlist API (DESIGN.md §7). Inputs validate shape and bounds only;
meaning (embedding dimension, tag normalisation, served tracks) is checked by the services."""

from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config import errors
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

    Count and length are checked by :func:`recommend.services.steering.clean_tags` after normalisation, so the
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


class SteerInputSerializer(serializers.Serializer):
    tags = TagListField(help_text="Tags to steer towards (added to the session's tags).")
    avoid = TagListField(help_text="Tags to steer away from.")


class FeedbackInputSerializer(serializers.Serializer):
    liked = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                  max_length=200)
    skipped = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                    max_length=200)


# --- outputs ----------------------------------------------------------------------------------------------------


class TrackOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    artist = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField()


class PlaylistItemOutputSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1-based position.")
    score = serializers.FloatField(help_text="Cosine similarity of the track to the seed that found it.")
    seed = serializers.IntegerField(help_text="Index of the prior seed that retrieved the track.")
    track = TrackOutputSerializer()


class PlaylistOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    items = PlaylistItemOutputSerializer(many=True)


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


ErrorSerializer = errors.ErrorSerializer  # the API's one error shape, documented for every app (config/errors.py)

