"""Listening sessions, their steering history, and the versioned playlists served in them.

A :class:`Session` starts with an image (its condition-space embedding is kept, so every re-steer samples from the
same query) and accumulates steering state: tags to steer towards, tags to avoid, liked and skipped tracks. Each
``from-image`` or ``steer`` call stores one new :class:`Playlist` version; :class:`SteeringEvent` rows keep the
history a client can show ("you added jazz, then liked 2 tracks").

The session token is a bearer secret: only its SHA-256 is stored, so a database leak does not hand out sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from catalog.models import Track

TAG_MAX_LENGTH = 64
MAX_TAGS = 16  # per request, and kept per session (the newest win)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> str:
    """32 random bytes (256 bits), URL-safe: unguessable, and fine in an HTTP header."""
    return secrets.token_urlsafe(32)


class Session(models.Model):
    """One user's listening session, started from one image and re-steered by tags and feedback."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    cond_space = models.CharField(max_length=100, help_text="Condition space of query_embedding (prior's cond space).")
    query_embedding = ArrayField(models.FloatField(), help_text="L2-normalised condition vector of the image.")
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    avoid = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    liked = ArrayField(models.BigIntegerField(), default=list, blank=True)
    skipped = ArrayField(models.BigIntegerField(), default=list, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="size, seeds, guidance, merge of the session.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["updated_at"], name="session_updated_at")]  # retention: idle sessions

    def __str__(self) -> str:
        return f"session {self.id}"

    def token_matches(self, raw: str | None) -> bool:
        """Constant-time comparison of the token's hash, so response timing leaks nothing about the stored hash."""
        if not raw:
            return False
        return hmac.compare_digest(hash_token(raw), self.token_hash)


class SteeringEvent(models.Model):
    """One thing the user did to a session: start it, steer it, or give feedback."""

    class Kind(models.TextChoices):
        CREATE = "create"
        STEER = "steer"
        FEEDBACK = "feedback"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    avoid = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    liked = ArrayField(models.BigIntegerField(), default=list, blank=True)
    skipped = ArrayField(models.BigIntegerField(), default=list, blank=True)
    playlist_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.session_id}"


class Playlist(models.Model):
    """Version ``version`` of a session's playlist, with the parameters that produced it (reproducible)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="playlists")
    version = models.PositiveIntegerField()
    params = models.JSONField(default=dict, blank=True)
    explain = models.JSONField(
        default=dict, blank=True, help_text="Why each track is there and a 2-D map of seeds and tracks (explain.py)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "version"]
        constraints = [models.UniqueConstraint(fields=["session", "version"], name="playlist_session_version_unique")]

    def __str__(self) -> str:
        return f"playlist {self.pk} (v{self.version} of {self.session_id})"


class PlaylistItem(models.Model):
    """One track at one rank (1-based) of a playlist; ``seed`` is the index of the prior seed that found it."""

    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    seed = models.PositiveIntegerField()
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["playlist", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["playlist", "rank"], name="playlist_item_rank_unique"),
            models.UniqueConstraint(fields=["playlist", "track"], name="playlist_item_track_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.track_id}"
