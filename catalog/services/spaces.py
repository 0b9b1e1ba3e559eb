"""Creating embedding spaces (and their HNSW index)."""

from __future__ import annotations

from django.db import transaction

from catalog.models import MAX_INDEXED_DIM, EmbeddingSpace
from catalog.vector_index import build_index


class SpaceConflictError(ValueError):
    """A space of that name exists with a different dimension/encoder/version: pick a new name or version."""


@transaction.atomic
def ensure_space(
    name: str,
    dimension: int,
    encoder: str = "unknown",
    version: str = "1",
    *,
    is_proxy: bool = False,
    with_index: bool = True,
) -> EmbeddingSpace:
    """Return the space ``name``, creating it (and its index) if new; refuse a conflicting definition."""
    if not 1 <= int(dimension) <= MAX_INDEXED_DIM:
        raise ValueError(f"dimension must be between 1 and {MAX_INDEXED_DIM}, got {dimension}")
    space, created = EmbeddingSpace.objects.get_or_create(
        name=name,
        defaults={"dimension": int(dimension), "encoder": encoder, "version": version, "is_proxy": is_proxy},
    )
    if not created and space.dimension != int(dimension):
        raise SpaceConflictError(
            f"space {name!r} already holds {space.dimension}-d vectors; got {dimension}-d. "
            "Ingest into a new space name to re-embed the catalog."
        )
    if created and with_index:
        build_index(space)
    return space


def space_from_prior(space, *, with_index: bool = True) -> EmbeddingSpace:
    """The catalog space matching a :class:`prior.spaces.EmbeddingSpace` (created if missing)."""
    return ensure_space(
        space.name, space.dim, space.encoder, space.version, is_proxy=space.proxy, with_index=with_index
    )
