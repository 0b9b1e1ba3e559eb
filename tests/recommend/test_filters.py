"""Playlist filters: row filters inside the one-round-trip ANN query (checked against the exact search), the
album and song-version caps in the diversifier, and the song-version key."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import selectors as catalog_selectors
from catalog.filters import TrackFilter
from catalog.models import Track
from catalog.selectors import known_genres, nearest_tracks, tracks_matching
from recommend.diversify import DiversifyParams, mmr_select
from recommend.filters import PlaylistFilters, song_key
from tests.conftest import unit_vectors


@pytest.mark.parametrize(("a", "b"), [
    ("Nightcall", "Nightcall (Remastered 2011)"),
    ("Nightcall", "nightcall - Live at Wembley"),
    ("Nightcall", "NIGHTCALL [Radio Edit]"),
    ("Don't Stop", "Dont Stop"),
])
def test_versions_of_one_song_share_a_key(a, b):
    assert song_key(a, "Neon  Arcade") == song_key(b, "neon arcade")


def test_different_songs_or_artists_do_not():
    assert song_key("Nightcall", "Neon Arcade") != song_key("Nightcall", "Chrome Hearts")
    assert song_key("Nightcall", "Neon Arcade") != song_key("Night Call Home", "Neon Arcade")
    assert song_key("", "Neon Arcade") is None  # no title: a song of its own
    assert song_key("Live - Version", "X") is not None  # a title made only of markers still has a key


def test_group_caps_in_the_diversifier():
    rng = np.random.default_rng(0)
    vectors = unit_vectors(rng, 8, 16)
    relevance = np.linspace(1.0, 0.3, 8)
    artists = [f"a{i}" for i in range(8)]  # no artist cap in play
    albums = ["x", "x", "x", "y", "y", "z", None, None]
    songs = ["s1", "s1", "s2", "s3", "s4", "s1", "s5", "s6"]
    chosen = mmr_select(relevance, vectors, 8, artists=artists, params=DiversifyParams(mmr_lambda=1.0),
                        groups=[(albums, 2), (songs, 1)])
    assert max(Counter(albums[i] for i in chosen if albums[i]).values()) <= 2
    assert len({songs[i] for i in chosen}) == len(chosen)
    assert chosen == [0, 2, 3, 4, 6, 7]  # by relevance, skipping what a cap rules out
    # pinned items count towards the caps: a pinned "s1" keeps every other "s1" out
    pinned = mmr_select(relevance, vectors, 4, artists=artists, pinned=[5], params=DiversifyParams(mmr_lambda=1.0),
                        groups=[(songs, 1)])
    assert pinned[0] == 5 and 0 not in pinned and 1 not in pinned


def test_filters_round_trip_through_the_session_dict():
    filters = PlaylistFilters.from_dict({"genres": [" Jazz "], "year_max": 1970, "max_per_album": 1,
                                         "one_version_per_song": True, "exclude_artists": ["The  Band"]})
    assert filters.track.genres == ("jazz",) and filters.track.exclude_artists == ("the band",)
    assert PlaylistFilters.from_dict(filters.as_dict()) == filters
    assert PlaylistFilters.from_dict({}).is_empty and PlaylistFilters().as_dict() == {}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["exact over the matching tracks", "hnsw iterative scan"])
def test_a_selective_filter_runs_inside_the_ann_query_and_fills_every_list(catalog, path, monkeypatch):
    if path == "hnsw iterative scan":
        monkeypatch.setattr(catalog_selectors, "FILTER_EXACT_MAX", -1)
    counts = Counter(tag for t in Track.objects.filter(source="musiccaps-test") for tag in t.tags)
    tag = next(tag for tag, n in counts.most_common() if 12 <= n <= 40)  # a tag on ~5-15 % of the slice
    wanted = set(Track.objects.filter(source="musiccaps-test", tags__contains=[tag]).values_list("id", flat=True))
    seeds = unit_vectors(np.random.default_rng(1), 4, catalog["space"].dimension)
    k = 10
    track_filter = TrackFilter.of(genres=[tag.upper()], exclude_artists=["artist 03"])
    with CaptureQueriesContext(connection) as queries:
        lists = nearest_tracks(catalog["space"], seeds, k, track_filter=track_filter, ef_search=40)
    assert len(queries) == 2 and queries[0]["sql"].startswith("EXPLAIN"), "a planner estimate, then ONE query"
    exact = nearest_tracks(catalog["space"], seeds, k, track_filter=track_filter, exact=True)
    by_artist = dict(Track.objects.filter(id__in=wanted).values_list("id", "artist"))
    allowed = {t for t in wanted if by_artist[t] != "Artist 03"}
    for hits, truth in zip(lists, exact, strict=True):
        ids = [n.track_id for n in hits]
        assert set(ids) <= allowed
        assert len(ids) == min(k, len(allowed)), "every list is filled (the iterative scan keeps going)"
        recall = len(set(ids) & {n.track_id for n in truth}) / len(truth)
        assert recall >= (1.0 if path.startswith("exact") else 0.8)
    assert tracks_matching(list(wanted)[:5] + [next(iter(set(by_artist) - allowed), -1)], track_filter) <= allowed
    assert known_genres([tag, "space polka"]) == {tag}
