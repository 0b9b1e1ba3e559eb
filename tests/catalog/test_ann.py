"""The ANN selector: one round trip for all seeds, exclusions, exact mode, and the HNSW index in the plan."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import TrackEmbedding
from catalog.selectors import UnknownSpaceError, nearest_sql, nearest_tracks, vectors_for
from catalog.services.spaces import ensure_space
from catalog.vector_index import has_index, index_expr, vector_expr
from tests.conftest import unit_vectors
from tests.helpers.ann import exact_top, make_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def space_and_vectors(rng):
    space = ensure_space("test-32", 32, "random")
    vectors = unit_vectors(rng, 400, 32)
    ids = make_catalog(space, vectors)
    return space, np.array(ids), vectors


def test_exact_mode_matches_numpy(space_and_vectors, rng):
    space, ids, vectors = space_and_vectors
    seeds = unit_vectors(rng, 4, 32)
    result = nearest_tracks(space, seeds, 10, exact=True)
    assert len(result) == 4
    for seed, neighbors in zip(seeds, result, strict=True):
        assert [n.track_id for n in neighbors] == exact_top(vectors, ids, seed, 10)
        scores = [n.score for n in neighbors]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(float(vectors[ids.tolist().index(neighbors[0].track_id)] @ seed), abs=1e-5)


def test_all_seeds_in_one_round_trip(space_and_vectors, rng):
    space, _, _ = space_and_vectors
    seeds = unit_vectors(rng, 16, 32)
    nearest_tracks(space, seeds[:1], 5)  # warm-up: type registration may query the catalog once
    with CaptureQueriesContext(connection) as queries:
        result = nearest_tracks(space, seeds, 20)
    assert len(queries.captured_queries) == 1
    assert [len(r) for r in result] == [20] * 16


def test_approximate_mode_has_high_recall(space_and_vectors, rng):
    space, ids, vectors = space_and_vectors
    seeds = unit_vectors(rng, 8, 32)
    approx = nearest_tracks(space, seeds, 10)
    pairs = zip(approx, seeds, strict=True)
    hits = sum(len({n.track_id for n in a} & set(exact_top(vectors, ids, s, 10))) for a, s in pairs)
    assert hits / 80 >= 0.9


def test_exclusions_are_never_returned_and_k_is_kept(space_and_vectors, rng):
    space, ids, vectors = space_and_vectors
    seed = unit_vectors(rng, 1, 32)
    first = [n.track_id for n in nearest_tracks(space, seed, 30, exact=True)[0]]
    for exact in (True, False):
        again = [n.track_id for n in nearest_tracks(space, seed, 30, exclude=first[:25], exact=exact)[0]]
        assert len(again) == 30
        assert not set(again) & set(first[:25])


def test_explain_uses_hnsw_index_in_approximate_mode_only(space_and_vectors, rng):
    space, _, _ = space_and_vectors
    assert has_index(space)
    from catalog.vector_index import register_vector_type

    register_vector_type()
    seeds = list(unit_vectors(rng, 3, 32))
    with connection.cursor() as cursor:
        cursor.execute(
            "SET enable_seqscan = off"
        )  # a 400-row table would otherwise be scanned: show the index CAN serve it
        cursor.execute("EXPLAIN " + nearest_sql(space), [seeds, [], 10])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + nearest_sql(space, exact=True), [seeds, [], 10])
        exact_plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "catalog_embedding_hnsw_space_" in plan
    assert "catalog_embedding_hnsw_space_" not in exact_plan
    assert index_expr(space) == "(vector::halfvec(32))" and vector_expr(space) == "(vector::vector(32))"


def test_two_spaces_side_by_side(space_and_vectors, rng):
    space, ids, _ = space_and_vectors
    other = ensure_space("test-8", 8, "random-small")
    small = unit_vectors(rng, len(ids), 8)
    TrackEmbedding.objects.bulk_create(
        [TrackEmbedding(track_id=int(t), space=other, vector=v) for t, v in zip(ids, small, strict=True)]
    )
    res = nearest_tracks(other, small[5], 1, exact=True)
    assert res[0][0].track_id == ids[5]
    assert vectors_for(other, [int(ids[5])]).shape == (1, 8)
    assert vectors_for(space, [int(ids[5])]).shape == (1, 32)
    with pytest.raises(ValueError, match="shape"):
        nearest_tracks(other, unit_vectors(rng, 1, 32), 3)


def test_unknown_space_and_bad_seeds(space_and_vectors):
    with pytest.raises(UnknownSpaceError, match="known: test-32"):
        nearest_tracks("nope", np.ones((1, 32)), 3)
    space, _, _ = space_and_vectors
    with pytest.raises(ValueError, match="NaN"):
        nearest_tracks(space, np.full((1, 32), np.nan), 3)
