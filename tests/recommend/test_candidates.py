"""How many neighbours the playlist ANN fetches per seed: a small k in one round trip, deeper only when needed."""

from __future__ import annotations

import numpy as np
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from recommend.ranking import neighbours_per_seed, pool_is_complete


def test_first_k_is_twice_each_seeds_share_of_the_pool_within_bounds():
    assert neighbours_per_seed(60, 16, 10, 100) == 10  # ceil(120 / 16) = 8, raised to the minimum
    assert neighbours_per_seed(300, 16, 10, 100) == 38
    assert neighbours_per_seed(300, 1, 10, 100) == 100
    assert neighbours_per_seed(60, 0, 10, 100) == 100  # no seeds: never divides by zero


def test_pool_is_complete_only_when_deeper_lists_could_not_help():
    artists = {t: f"a{t}" for t in range(100)}
    distinct = [[s * 10 + i for i in range(10)] for s in range(6)]  # 60 distinct tracks
    collapsed = [list(range(10))] * 6  # every seed found the same 10
    assert pool_is_complete(distinct, artists, k=10, pool=60, size=20, max_per_artist=2)
    assert not pool_is_complete(collapsed, artists, k=10, pool=60, size=20, max_per_artist=2)
    # Lists shorter than k: the catalog (minus exclusions) has nothing more to give.
    assert pool_is_complete([list(range(5))] * 6, artists, k=10, pool=60, size=20, max_per_artist=2)
    # Enough tracks, but only 5 artists x 2 allowed each = 10 < size 20: search deeper.
    few_artists = {t: f"a{t % 5}" for t in range(100)}
    assert not pool_is_complete(distinct, few_artists, k=10, pool=60, size=20, max_per_artist=2)
    # Unknown (empty) artists never collide.
    unknown = {t: "" for t in range(100)}
    assert pool_is_complete(distinct, unknown, k=10, pool=60, size=20, max_per_artist=1)


def ann_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "unnest(" in q["sql"]]


def test_diverse_seeds_need_one_round_trip_at_the_serving_ef_search(catalog, db):
    from recommend.selectors import playlist_candidates

    vectors = np.stack(list(catalog["vectors"].values())[:16])
    with override_settings(RECOMMEND_EF_SEARCH=33), CaptureQueriesContext(connection) as queries:
        found, k = playlist_candidates(catalog["space"], vectors, pool=30, size=10, exclude=set())
    assert k == 10
    sql = ann_queries(queries)
    assert len(sql) == 1 and sql[0].startswith("SET hnsw.ef_search = 33;")
    assert len({n.track_id for hits in found.per_seed for n in hits}) >= 30
    with connection.cursor() as cursor:  # every ANN call sets it again: the serving value is not left behind
        cursor.execute("SHOW hnsw.ef_search")
        assert cursor.fetchone()[0] == "33"


def test_collapsed_seeds_search_deeper_until_the_pool_fills(catalog, db):
    from recommend.selectors import playlist_candidates

    one = next(iter(catalog["vectors"].values()))
    seeds = np.repeat(one[None, :], 16, axis=0)  # 16 identical seeds: every list is the same top-k
    with CaptureQueriesContext(connection) as queries:
        found, k = playlist_candidates(catalog["space"], seeds, pool=60, size=20, exclude=set())
    distinct = {n.track_id for hits in found.per_seed for n in hits}
    assert len(ann_queries(queries)) == 4 and k == 80  # 10 -> 20 -> 40 -> 80 per seed
    assert len(distinct) >= 60


def test_deeper_search_stops_at_the_maximum(catalog, db):
    from recommend.selectors import playlist_candidates

    one = next(iter(catalog["vectors"].values()))
    seeds = np.repeat(one[None, :], 16, axis=0)
    with override_settings(RECOMMEND_K_PER_SEED_MAX=25), CaptureQueriesContext(connection) as queries:
        found, k = playlist_candidates(catalog["space"], seeds, pool=60, size=20, exclude=set())
    assert k == 25 and len(ann_queries(queries)) == 3  # 10 -> 20 -> 25, then the cap
    assert all(len(hits) == 25 for hits in found.per_seed)
