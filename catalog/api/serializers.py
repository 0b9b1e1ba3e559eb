"""Input and output shapes of the catalog API (``/api/tracks/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_TRACKS_PER_REQUEST = 5000


@extend_schema_field({"type": "array", "items": {"type": "number"}})
class VectorField(serializers.Field):
    """A JSON list of numbers, passed on as is: the ingest service checks and normalises it (fast for 5,000 x 384
    values, where a ``ListField(FloatField())`` would build and validate two million fields)."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("must be a list of numbers")
        return data

    def to_representation(self, value):
        return list(value)


class CatalogTrackInputSerializer(serializers.Serializer):
    """One track of a bulk upsert. Only the shape is checked here; row rules (dimension, NaN, zero vector,
    duplicates) are the ingest service's, shared with file imports."""

    source = serializers.CharField(required=False, allow_blank=True)
    external_id = serializers.CharField(allow_blank=True)
    title = serializers.CharField(required=False, allow_blank=True)
    artist = serializers.CharField(required=False, allow_blank=True)
    album = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    genre = serializers.CharField(required=False, allow_blank=True)
    year = serializers.IntegerField(required=False, allow_null=True)
    duration_s = serializers.FloatField(required=False, allow_null=True)
    url = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)
    embedding = VectorField()


class CatalogBulkUpsertSerializer(serializers.Serializer):
    space = serializers.CharField(max_length=100)
    tracks = CatalogTrackInputSerializer(many=True, allow_empty=False, max_length=MAX_TRACKS_PER_REQUEST)


class CatalogRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="index in the request's tracks list")
    external_id = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class CatalogIngestReportSerializer(serializers.Serializer):
    space = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class CatalogTrackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    artist = serializers.CharField()
    album = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    genre = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    url = serializers.CharField()
    metadata = serializers.DictField()
    spaces = serializers.ListField(child=serializers.CharField(), source="space_names")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CatalogTrackFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    artist = serializers.CharField(required=False, allow_blank=True, max_length=300)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=100)
    source = serializers.CharField(required=False, allow_blank=True, max_length=50)
    space = serializers.CharField(required=False, allow_blank=True, max_length=100)


class CatalogTrackPageSerializer(serializers.Serializer):
    """The paginated listing (documentation only: the paginator writes it)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CatalogTrackSerializer(many=True)
