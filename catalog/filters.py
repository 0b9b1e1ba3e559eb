"""Row filters on tracks that the one-round-trip ANN query applies inside each seed's index scan.

Why inside the scan and not after it: a filter that keeps 5 % of the catalog would leave a top-50 list with ~2
tracks if applied to the ANN's output. With the filter in the per-seed subquery, pgvector's iterative index scan
(``hnsw.iterative_scan = relaxed_order``, set per connection in config/settings.py) keeps walking the graph until k
matching tracks are found (or ``hnsw.max_scan_tuples`` is reached), all still in one SQL round trip.

Matching rules (documented in docs/api.md):
- ``genres``: a track matches when its ``genre`` equals one of them case-insensitively, or one of its ``tags`` does
  (tags are lower-case in the shipped catalogs); ``exclude_genres`` drops tracks matching any of its values;
- ``year_min`` / ``year_max`` / ``max_duration_s``: tracks whose year or duration is unknown are left out when the
  bound is set (an unknown value cannot be shown to be in range);
- ``exclude_artists``: case- and space-insensitive names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def normalise_name(name: str) -> str:
    """Case- and space-insensitive form of an artist or genre name (as :func:`recommend.diversify.artist_keys`)."""
    return " ".join(str(name or "").split()).casefold()


@dataclass(frozen=True)
class TrackFilter:
    """Which tracks may be retrieved at all; empty fields filter nothing. Values are normalised by :meth:`of`."""

    genres: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    max_duration_s: float | None = None
    exclude_artists: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, genres: Iterable[str] = (), exclude_genres: Iterable[str] = (), year_min: int | None = None,
           year_max: int | None = None, max_duration_s: float | None = None,
           exclude_artists: Iterable[str] = ()) -> TrackFilter:
        def names(values: Iterable[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(n for n in (normalise_name(v) for v in values) if n))

        return cls(genres=names(genres), exclude_genres=names(exclude_genres), year_min=year_min, year_max=year_max,
                   max_duration_s=max_duration_s, exclude_artists=names(exclude_artists))

    @property
    def is_empty(self) -> bool:
        return self == TrackFilter()

    def where_sql(self, alias: str) -> tuple[str, list]:
        """``AND ...`` conditions on the track table under ``alias``, and their parameters (in order)."""
        clauses: list[str] = []
        params: list = []
        genre_match = (f"(lower({alias}.genre) = ANY(%s::text[]) OR "
                       f"{alias}.tags && %s::varchar(100)[])")
        if self.genres:
            clauses.append(genre_match)
            params += [list(self.genres), list(self.genres)]
        if self.exclude_genres:
            clauses.append(f"NOT {genre_match}")
            params += [list(self.exclude_genres), list(self.exclude_genres)]
        if self.year_min is not None:
            clauses.append(f"{alias}.year >= %s")
            params.append(int(self.year_min))
        if self.year_max is not None:
            clauses.append(f"{alias}.year <= %s")
            params.append(int(self.year_max))
        if self.max_duration_s is not None:
            clauses.append(f"{alias}.duration_s <= %s")
            params.append(float(self.max_duration_s))
        if self.exclude_artists:
            clauses.append(f"NOT (lower(regexp_replace(btrim({alias}.artist), '\\s+', ' ', 'g')) = ANY(%s::text[]))")
            params.append(list(self.exclude_artists))
        return "".join(f" AND {c}" for c in clauses), params
