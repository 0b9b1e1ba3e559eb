"""Tags as the API accepts them: one normalisation for a new session's tags and a steer's tags and avoid tags.

A module of its own (not a service) because both services need it, and the session service must not import the
steering service, which builds on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import InvalidInput
from recommend.models import MAX_TAGS, TAG_MAX_LENGTH


def clean_tags(tags: Iterable[str], field: str = "tags") -> list[str]:
    """Trimmed, lower-cased, de-duplicated tags (order kept); too many, too long or empty tags are invalid input."""
    cleaned: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise InvalidInput("Tags must be strings.", code="invalid_tags", details={field: "not a string"})
        tag = " ".join(raw.split()).casefold()
        if not tag:
            raise InvalidInput("Tags must not be empty.", code="invalid_tags", details={field: "empty tag"})
        if len(tag) > TAG_MAX_LENGTH:
            raise InvalidInput(
                f"A tag may have at most {TAG_MAX_LENGTH} characters.", code="tag_too_long",
                details={field: tag[:TAG_MAX_LENGTH] + "…", "max_length": TAG_MAX_LENGTH},
            )
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per request.", code="too_many_tags", details={field: len(cleaned)})
    return cleaned
