"""One track to ingest, and the row-level validation every input (file, reader, REST batch) goes through.

Every source of tracks — a CSV/JSONL/Parquet file, a real-data reader, a ``POST /api/tracks/`` body — turns its rows
into plain dicts and calls :func:`parse_record`, so a bad row gets the same reason whichever way it came in.
Vectors are checked (dimension, NaN/inf, zero) and L2-normalised in :func:`check_vector`; the caller only knows
the dimension once the space is resolved, so vector checks run in the ingest service, not here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

KNOWN_FIELDS = frozenset(
    {"source", "external_id", "id", "title", "artist", "album", "tags", "genre", "year", "duration_s", "url",
     "metadata", "embedding", "audio", "text"}
)
MAX_LENGTHS = {"source": 50, "external_id": 200, "title": 500, "artist": 300, "album": 300, "genre": 100, "url": 500}
MAX_TAG_LENGTH = 100
TRACK_FIELDS = ("title", "artist", "album", "tags", "genre", "year", "duration_s", "url", "metadata")
_url_validator = URLValidator(schemes=["http", "https"])


class RowInvalid(ValueError):
    """A row cannot be imported; the message is the reason shown in the report."""


@dataclass(frozen=True)
class RowError:
    """One rejected row: where it is (``row``: line number for CSV/JSONL, 1-based row otherwise) and why."""

    row: int | None
    reason: str
    external_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "external_id": self.external_id, "reason": self.reason}


@dataclass
class TrackRecord:
    """A parsed row. ``embedding`` may still be missing while ``text``/``audio`` wait for an encoder.

    ``fields`` names the track fields the input row carried: only those overwrite a stored track, so a file of
    ``external_id`` + ``embedding`` (re-embedding a catalog into a new space) keeps titles, tags and the rest.
    """

    row: int
    source: str
    external_id: str
    title: str = ""
    artist: str = ""
    album: str = ""
    tags: list[str] = field(default_factory=list)
    genre: str = ""
    year: int | None = None
    duration_s: float | None = None
    url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    embedding: Any = None
    text: str | None = None
    audio: str | None = None
    fields: frozenset[str] = frozenset(TRACK_FIELDS)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    if _blank(value):
        return ""
    if not isinstance(value, str | int | float):
        raise RowInvalid(f"{name} must be text")
    value = str(value).strip()
    if name in MAX_LENGTHS and len(value) > MAX_LENGTHS[name]:
        raise RowInvalid(f"{name} is longer than {MAX_LENGTHS[name]} characters")
    return value


def _tags(value: Any) -> list[str]:
    """A list, or in CSV a JSON list (``["a", "b"]``) or ``|``-separated text (``a|b``)."""
    if _blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise RowInvalid("tags is not a valid JSON list") from None
        else:
            value = text.split("|")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise RowInvalid("tags must be a list of strings")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str):
            raise RowInvalid("tags must be a list of strings")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise RowInvalid(f"tag {tag[:20]!r}... is longer than {MAX_TAG_LENGTH} characters")
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _duration(value: Any) -> float | None:
    if _blank(value):
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        raise RowInvalid("duration_s is not a number") from None
    if not math.isfinite(duration) or duration < 0:
        raise RowInvalid("duration_s must be a finite number >= 0")
    return duration


def _year(value: Any) -> int | None:
    if _blank(value):
        return None
    try:
        year = float(value)
    except (TypeError, ValueError):
        raise RowInvalid("year is not a number") from None
    if not year.is_integer() or not 0 < year <= 9999:
        raise RowInvalid("year must be a whole number from 1 to 9999")
    return int(year)


def _metadata(value: Any) -> dict[str, Any]:
    if _blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowInvalid("metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise RowInvalid("metadata must be a JSON object")
    return value


def _url(raw: dict) -> str:
    url = _text(raw, "url")
    if url:
        try:
            _url_validator(url)
        except ValidationError:
            raise RowInvalid("url is not a valid http(s) URL") from None
    return url


def _extra(value: Any) -> Any:
    """Unknown columns are kept in metadata; make them JSON-safe."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool | list | dict) or value is None else str(value)


def parse_record(raw: dict[str, Any], row: int, *, default_source: str = "") -> TrackRecord:
    """Turn one input row into a :class:`TrackRecord`; raise :class:`RowInvalid` with the reason otherwise."""
    if not isinstance(raw, dict):
        raise RowInvalid("a row must be an object with named fields")
    external_id = _text(raw, "external_id") or _text(raw, "id")
    if not external_id:
        raise RowInvalid("missing external_id")
    source = _text(raw, "source") or default_source
    if not source:
        raise RowInvalid("missing source")
    if len(source) > MAX_LENGTHS["source"]:
        raise RowInvalid(f"source is longer than {MAX_LENGTHS['source']} characters")
    metadata = _metadata(raw.get("metadata"))
    extra = {k: _extra(v) for k, v in raw.items() if k not in KNOWN_FIELDS and not _blank(v)}
    audio = _text(raw, "audio") or None
    text = _text(raw, "text") or None
    fields = frozenset(f for f in TRACK_FIELDS if f in raw) | ({"metadata"} if extra else frozenset())
    return TrackRecord(
        row=row,
        source=source,
        external_id=external_id,
        title=_text(raw, "title"),
        artist=_text(raw, "artist"),
        album=_text(raw, "album"),
        tags=_tags(raw.get("tags")),
        genre=_text(raw, "genre"),
        year=_year(raw.get("year")),
        duration_s=_duration(raw.get("duration_s")),
        url=_url(raw),
        metadata={**extra, **metadata},
        embedding=None if _blank_embedding(raw.get("embedding")) else raw.get("embedding"),
        text=text,
        audio=audio,
        fields=fields,
    )


def _blank_embedding(value: Any) -> bool:
    return value is None if not isinstance(value, str | float) else _blank(value)


def check_vector(value: Any, dimension: int) -> np.ndarray:
    """The embedding as an L2-normalised float32 vector of ``dimension``; :class:`RowInvalid` says what is wrong."""
    if value is None:
        raise RowInvalid("missing embedding")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowInvalid("embedding is not a JSON list of numbers") from None
    if isinstance(value, list | tuple) and not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise RowInvalid("embedding must be a list of numbers")
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RowInvalid("embedding must be a list of numbers") from None
    if vector.ndim != 1:
        raise RowInvalid("embedding must be a flat list of numbers")
    if vector.shape[0] != dimension:
        raise RowInvalid(f"embedding has {vector.shape[0]} dimensions, the space expects {dimension}")
    with np.errstate(over="ignore", invalid="ignore"):
        squared = float(vector @ vector)  # one pass: NaN/inf anywhere makes it non-finite
    if not math.isfinite(squared):
        if not np.isfinite(vector).all():
            raise RowInvalid("embedding contains NaN or inf")
        vector = vector / np.abs(vector).max()  # huge but finite values: rescale before squaring
        squared = float(vector @ vector)
    if squared == 0.0:
        raise RowInvalid("embedding is a zero vector")
    return (vector / math.sqrt(squared)).astype(np.float32)
