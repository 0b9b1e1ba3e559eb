"""serving.process: a serving process loads its models and freezes its heap before its first request."""

from __future__ import annotations

import gc
import logging
import runpy
from pathlib import Path

import numpy as np

from serving import runtime
from serving.process import log_batching, prepare_serving_process

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


def test_warms_the_models_and_freezes_the_heap(transactional_db, served_prior, settings, caplog):
    settings.IMAGE_ENCODER, settings.TEXT_ENCODER = "palette", "minilm"
    assert gc.get_freeze_count() == 0
    with caplog.at_level(logging.INFO, logger="serving.process"):
        assert prepare_serving_process() is True
    assert runtime.loaded_models() >= {"prior", "image", "text"}
    assert gc.get_freeze_count() > 10_000  # Django, torch and the models, out of the collector's walks
    assert "warm-up: prior" in caplog.text
    assert "one plain and one steered query run" in caplog.text  # the first request pays no first-call costs
    batcher = runtime.loaded_batcher()
    assert batcher is None or batcher.queries == 0  # the warm-up queries are not traffic


def test_a_failing_warm_up_query_is_logged_and_the_process_still_starts(transactional_db, served_prior, settings,
                                                                        caplog, monkeypatch):
    settings.IMAGE_ENCODER, settings.TEXT_ENCODER = "palette", "minilm"

    def broken(encoders: bool = True) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr("serving.runtime.exercise_models", broken)
    with caplog.at_level(logging.INFO, logger="serving.process"):
        assert prepare_serving_process() is True
    assert "exercising the models failed (RuntimeError: out of memory)" in caplog.text


def test_not_ready_still_starts_and_says_why(transactional_db, settings, tmp_path, caplog):
    settings.PRIOR_CHECKPOINT = str(tmp_path / "nothing-here")
    with caplog.at_level(logging.WARNING, logger="serving.process"):
        assert prepare_serving_process() is False
    assert "no prior checkpoint" in caplog.text
    assert gc.get_freeze_count() > 0


def test_warm_up_off_loads_nothing_but_still_freezes(transactional_db, served_prior, settings, caplog):
    settings.PRIOR_WARM_UP = False
    with caplog.at_level(logging.INFO, logger="serving.process"):
        assert prepare_serving_process() is False
    assert runtime.loaded_models() == frozenset()
    assert gc.get_freeze_count() > 10_000
    assert "warm-up: off (PRIOR_WARM_UP=0)" in caplog.text


def test_at_exit_a_worker_logs_how_its_sampling_was_batched(served_prior, caplog):
    with caplog.at_level(logging.INFO, logger="serving.process"):
        log_batching()  # nothing sampled, no batcher: nothing to say
        assert caplog.text == ""
        batcher = runtime.get_batcher()
        batcher.sample(np.ones(48, np.float32), 2, seed=0)
        batcher.sample(np.ones(48, np.float32), 2, seed=1)
        log_batching()
    assert "sampling: 2 queries in 2 passes (1.00 per pass)" in caplog.text


def test_gunicorn_hooks_call_them(monkeypatch):
    calls = []
    monkeypatch.setattr("serving.process.prepare_serving_process", lambda log=None: calls.append(("init", log)))
    monkeypatch.setattr("serving.process.log_batching", lambda log=None: calls.append(("exit", log)))
    conf = runpy.run_path(str(GUNICORN_CONF))

    class Worker:
        log = logging.getLogger("gunicorn.error")

    conf["post_worker_init"](Worker())
    conf["worker_exit"](None, Worker())
    assert calls == [("init", Worker.log), ("exit", Worker.log)]
