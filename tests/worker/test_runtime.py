"""serving.runtime: per-process model loading, space checks against the catalog and encoders, readiness."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from serving import runtime
from serving.errors import PriorNotReady
from tests.conftest import TinyPriorRecipe, train_tiny_prior
from tests.worker.conftest import MUSIC_SPACE


@pytest.mark.django_db
def test_readiness_without_checkpoint_says_how_to_fix(settings, tmp_path):
    settings.PRIOR_CHECKPOINT = str(tmp_path / "nothing-here")
    ok, detail = runtime.readiness()
    assert not ok
    assert "no prior checkpoint" in detail and "make demo" in detail


@pytest.mark.django_db
def test_readiness_without_catalog_space_says_ingest(settings, tiny_prior):
    settings.PRIOR_CHECKPOINT = str(tiny_prior)
    settings.CATALOG_SPACE = "empty-space"
    ok, detail = runtime.readiness()
    assert not ok
    assert "ingest" in detail and "empty-space" in detail


def test_prior_for_another_catalog_space_is_refused(served_prior, settings):
    from catalog.services.spaces import ensure_space

    ensure_space("clap-v1", MUSIC_SPACE.dim, "laion/clap", with_index=False)
    settings.CATALOG_SPACE = "clap-v1"
    with pytest.raises(PriorNotReady, match="does not fit the catalog"):
        runtime.get_prior()
    ok, detail = runtime.readiness()
    assert not ok and "clap-v1" in detail


def test_get_prior_loads_once_across_threads(transactional_db, served_prior):
    loaded = []
    barrier = threading.Barrier(6)

    def load():
        from django.db import connection

        barrier.wait()
        try:
            loaded.append(runtime.get_prior())
        finally:
            connection.close()  # each thread has its own connection; leave none open at teardown

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loaded) == 6 and all(p is loaded[0] for p in loaded)
    assert loaded[0].music_space == MUSIC_SPACE


def test_readiness_ok_with_matching_encoders(served_prior, settings):
    settings.IMAGE_ENCODER, settings.TEXT_ENCODER = "palette", "minilm"
    ok, detail = runtime.readiness()
    assert ok, detail
    assert "palette-v1 -> minilm-l6-v2" in detail
    tags = runtime.get_text_encoder().encode_texts(["calm piano"])
    seeds = runtime.get_prior().sample(np.ones(48, np.float32), n_seeds=4, steer=[(tags[0], 0.1)], seed=1)
    assert seeds.shape == (4, MUSIC_SPACE.dim)


def test_image_encoder_of_another_space_is_refused(served_prior, settings, tmp_path):
    from prior.spaces import EmbeddingSpace

    other = EmbeddingSpace(name="clip-vit-b-32", dim=48, encoder="clip")  # same dim, different model
    # A prior of its own: this one must be trained for a condition space the image encoder does not speak.
    settings.PRIOR_CHECKPOINT = str(train_tiny_prior(tmp_path / "prior", TinyPriorRecipe(cond_space=other, steps=2)))
    settings.IMAGE_ENCODER = "palette"
    with pytest.raises(PriorNotReady, match="IMAGE_ENCODER"):
        runtime.get_image_encoder()
    ok, detail = runtime.readiness()
    assert not ok and "clip-vit-b-32" in detail


def test_unknown_encoder_name_is_a_clear_error(served_prior, settings):
    settings.TEXT_ENCODER = "no-such-encoder"
    ok, detail = runtime.readiness()
    assert not ok and "no-such-encoder" in detail


def test_with_a_broker_readiness_reads_spaces_without_loading_weights(served_prior, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # never contacted: readiness checks spaces only
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.IMAGE_ENCODER, settings.TEXT_ENCODER = "palette", "minilm"
    ok, detail = runtime.readiness()
    assert ok, detail
    assert "Celery workers" in detail
    assert runtime.loaded_prior() is None
    assert runtime.prior_spaces() == (runtime.get_prior().cond_space, MUSIC_SPACE)


def test_local_sampling_goes_through_one_batcher_per_process(served_prior, settings):
    from serving import sampling

    settings.PRIOR_BATCH_MAX = 3
    runtime.reset()
    batcher = runtime.get_batcher()
    assert batcher is runtime.get_batcher() and batcher.sampler is runtime.get_prior() and batcher.max_batch == 3
    cond = np.ones(48, np.float32)
    seeds = sampling.sample_seeds(cond, n_seeds=4, seed=2)
    assert batcher.queries == 1
    np.testing.assert_array_equal(seeds, runtime.get_prior().sample(cond, n_seeds=4, seed=2))


def test_batch_wait_setting_and_announcing_before_sampling(served_prior, settings):
    from serving import sampling

    assert runtime.get_batcher().max_wait == 0.02  # PRIOR_BATCH_WAIT_MS default: 20
    runtime.reset()
    with sampling.sampling_ahead():  # no batcher yet: announcing loads nothing
        assert runtime.loaded_batcher() is None
    settings.PRIOR_BATCH_WAIT_MS = 5
    batcher = runtime.get_batcher()
    assert batcher.max_wait == 0.005
    with sampling.sampling_ahead():
        assert batcher.expected == 1
        sampling.sample_seeds(np.ones(48, np.float32), n_seeds=2, seed=0)
        assert batcher.expected == 0  # sampling withdrew it
    settings.PRIOR_BATCH_WAIT_MS = 0
    runtime.reset()
    with sampling.sampling_ahead():
        assert runtime.get_batcher().expected == 0  # 0 turns waiting off
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "redis://127.0.0.1:1/0", False
    settings.PRIOR_BATCH_WAIT_MS = 20
    runtime.reset()
    runtime.get_batcher()
    with sampling.sampling_ahead():  # sampling happens on the workers: nothing to announce here
        assert runtime.loaded_batcher().expected == 0


@pytest.mark.parametrize(("name", "value"), [("PRIOR_BATCH_WAIT_MS", "soon"), ("PRIOR_BATCH_WAIT_MS", -5),
                                             ("PRIOR_BATCH_MAX", 0), ("PRIOR_BATCH_MAX", "many")])
def test_bad_batching_settings_are_named_errors(served_prior, settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(PriorNotReady, match=f"{name} must be a number >= "):
        runtime.get_batcher()


def test_prior_dtype_setting_picks_the_trunk_dtype(served_prior, settings):
    import torch

    from prior.service import trunk_dtype

    assert runtime.get_prior().dtype == trunk_dtype("auto", torch.device("cpu"))  # the default
    runtime.reset()
    settings.PRIOR_DTYPE = "float32"
    assert runtime.get_prior().dtype == torch.float32
    runtime.reset()
    settings.PRIOR_DTYPE = "bfloat16"
    assert runtime.get_prior().dtype == torch.bfloat16


def test_unknown_prior_dtype_is_not_ready_with_the_choices(served_prior, settings):
    settings.PRIOR_DTYPE = "fp8"
    with pytest.raises(PriorNotReady, match="PRIOR_DTYPE must be one of auto, float32, bfloat16, got 'fp8'"):
        runtime.get_prior()
    ok, detail = runtime.readiness()
    assert not ok and "PRIOR_DTYPE" in detail


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("0", False), ("1", True), ("yes", True),
                                                 (True, True), (False, False)])
def test_cuda_graphs_setting(settings, monkeypatch, value, expected):
    from serving import runtime

    monkeypatch.delenv("PRIOR_CUDA_GRAPHS", raising=False)
    if value is None:
        if hasattr(settings, "PRIOR_CUDA_GRAPHS"):
            del settings.PRIOR_CUDA_GRAPHS
    else:
        settings.PRIOR_CUDA_GRAPHS = value
    assert runtime.cuda_graphs() is expected
