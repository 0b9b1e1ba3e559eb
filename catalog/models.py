"""Catalog data: tracks, embedding spaces, and each track's vector in each space.

A catalog holds embeddings from several spaces at once (one row per track and space), so it can be
re-embedded with a new encoder while the old space still serves. The ``vector`` column has no fixed
dimension; each space gets its own partial HNSW index over ``vector::halfvec(dim)`` (see
:mod:`catalog.vector_index`), which is the pgvector way to index mixed dimensions in one table.
Vectors are stored L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from pgvector.django import VectorField

# pgvector's HNSW index takes up to 2,000 dimensions of `vector` (4,000 of the `halfvec` the index stores): the
# lower limit keeps a float32 index possible for every space.
MAX_INDEXED_DIM = 2000


class EmbeddingSpace(models.Model):
    """A named vector space (encoder, dimension, version): the catalog side of :class:`prior.spaces.EmbeddingSpace`."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9._-]*$", "lower-case letters, digits, '.', '_' and '-' only")],
    )
    dimension = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_INDEXED_DIM)])
    encoder = models.CharField(max_length=200, help_text="Encoder that produced the vectors, e.g. a model id.")
    version = models.CharField(max_length=50, default="1")
    is_proxy = models.BooleanField(default=False, help_text="A stand-in space (e.g. text descriptions, not audio).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.dimension}-d)"

    def as_prior_space(self):
        from prior.spaces import EmbeddingSpace as PriorSpace

        return PriorSpace(
            name=self.name, dim=self.dimension, encoder=self.encoder, version=self.version, proxy=self.is_proxy
        )


class Track(models.Model):
    """A playable track; (source, external_id) is its identity across re-ingests."""

    source = models.CharField(max_length=50, help_text="Where the track comes from, e.g. 'musiccaps', 'jamendo'.")
    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    artist = models.CharField(max_length=300, blank=True, db_index=True)
    album = models.CharField(max_length=300, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    genre = models.CharField(max_length=100, blank=True, help_text="Main genre as the source names it, e.g. 'Rock'.")
    year = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(9999)])
    duration_s = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    url = models.URLField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="track_source_external_id_unique")
        ]
        indexes = [
            GinIndex(fields=["tags"], name="track_tags_gin"),
            models.Index(Lower("genre"), name="track_genre_lower"),  # genre filters compare lower(genre)
        ]

    def __str__(self) -> str:
        return f"{self.artist} – {self.title}" if self.artist else (self.title or self.external_id)


class TrackEmbedding(models.Model):
    """One track's L2-normalised vector in one embedding space."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="embeddings")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.PROTECT, related_name="embeddings")
    vector = VectorField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["track", "space"], name="embedding_track_space_unique")]
        indexes = [models.Index(fields=["space", "track"], name="embedding_space_track")]

    def __str__(self) -> str:
        return f"{self.track_id} in {self.space_id}"
