"""The synthetic world: shapes, determinism, a known posterior, and genuine multimodality."""

from dataclasses import replace

import numpy as np
import pytest

from prior.data.npz import load_catalog, load_pairs
from prior.data.synthetic import World, WorldConfig, make_world, write_world
from prior.metrics import recall_at_k
from prior.retrieval import per_seed_top_k, round_robin_merge

SMALL = WorldConfig(n_clusters=6, catalog_size=1500, n_train=800, n_val=100, n_test=150)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    write_world(out, SMALL)
    return out


def test_files_shapes_and_contract(small_world):
    train = load_pairs(small_world / "train.npz")
    test = load_pairs(small_world / "test.npz", require_track_id=True)
    val = load_pairs(small_world / "val.npz", require_track_id=True)
    catalog = load_catalog(small_world / "catalog.npz")
    assert train.cond.shape == (800, SMALL.cond_dim) and train.music.shape == (800, SMALL.music_dim)
    assert test.cond.shape == (150, SMALL.cond_dim) and test.steer.shape == (150, SMALL.music_dim)
    assert len(catalog) == 1500 and catalog.music_space == test.music_space
    assert test.cond_space != test.music_space
    ids = set(catalog.ids)
    assert set(test.track_id) <= ids and set(val.track_id) <= ids
    assert not set(test.track_id) & set(val.track_id)
    position = {t: i for i, t in enumerate(catalog.ids)}
    np.testing.assert_allclose(test.music, catalog.music[[position[t] for t in test.track_id]], atol=1e-6)
    assert (small_world / "world.json").is_file()


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    a = write_world(tmp_path / "a", replace(SMALL, n_train=50))
    b = write_world(tmp_path / "b", replace(SMALL, n_train=50))
    c = write_world(tmp_path / "c", replace(SMALL, n_train=50, seed=1))
    for name in ("train", "test", "catalog"):
        assert np.load(a[name])["music"].tobytes() == np.load(b[name])["music"].tobytes()
    assert np.load(a["train"])["music"].tobytes() != np.load(c["train"])["music"].tobytes()


def test_modes_are_several_unequal_and_labelled_distinctly():
    world = make_world(SMALL)
    for c in range(SMALL.n_clusters):
        modes = np.flatnonzero(world.mode_cluster == c)
        assert SMALL.modes_min <= len(modes) <= SMALL.modes_max
        assert world.mode_weight[modes].sum() == pytest.approx(1.0)
        assert len(set(np.round(world.mode_weight[modes], 6))) == len(modes)  # unequal
        assert len(set(world.mode_label[modes])) == len(modes)  # the label identifies the mode in its cluster


def test_world_round_trip(tmp_path):
    world = make_world(SMALL)
    loaded = World.load(world.save(tmp_path / "w.npz"))
    assert loaded.config == world.config
    np.testing.assert_array_equal(loaded.mode_centre, world.mode_centre)


def test_posterior_recovers_cluster_but_not_mode():
    world = make_world(SMALL)
    rng = np.random.default_rng(0)
    drawn = world.draw(300, rng)
    assert (world.cluster_posterior(drawn["cond"]).argmax(1) == drawn["cluster"]).mean() > 0.99
    seeds = world.oracle_sample(drawn["cond"][:5], 400, rng)
    modes = [np.flatnonzero(world.mode_cluster == c) for c in drawn["cluster"][:5]]
    for q in range(5):  # seeds fall into several modes, in proportion to the weights
        nearest = modes[q][np.argmax(seeds[q] @ world.mode_centre[modes[q]].T, axis=1)]
        share = np.array([(nearest == m).mean() for m in modes[q]])
        np.testing.assert_allclose(share, world.mode_weight[modes[q]], atol=0.1)


def test_oracle_beats_the_posterior_mean(small_world):
    """Multimodality: 16 exact posterior samples retrieve far better than the best single point."""
    world = World.load(small_world / "world.npz")
    test = load_pairs(small_world / "test.npz", require_track_id=True)
    catalog = load_catalog(small_world / "catalog.npz")
    rng = np.random.default_rng(0)

    def recall(seeds):
        idx, _ = per_seed_top_k(seeds, catalog.music, 100)
        return recall_at_k([round_robin_merge(catalog.ids[i], 100) for i in idx], test.track_id, 100).mean

    oracle = recall(world.oracle_sample(test.cond, 16, rng))
    mean = recall(world.posterior_mean_direction(test.cond, rng)[:, None])
    assert oracle > 0.9 and oracle > mean + 0.2


def test_more_training_pairs_leave_val_test_and_the_first_pairs_unchanged(tmp_path, monkeypatch):
    import prior.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "BASE_TRAIN", 300)
    small = write_world(tmp_path / "small", replace(SMALL, n_train=300))
    large = write_world(tmp_path / "large", replace(SMALL, n_train=900))
    for name in ("val", "test", "catalog"):
        assert np.load(small[name])["music"].tobytes() == np.load(large[name])["music"].tobytes()
    first, more = load_pairs(small["train"]), load_pairs(large["train"])
    assert len(more) == 900
    np.testing.assert_array_equal(more.cond[:300], first.cond)
    assert not np.isclose(more.music[300:600], first.music).all(axis=1).any()  # fresh draws, not repeats
