"""Batched sampling: queries run together get the seeds they would get alone; the batcher batches concurrent calls."""

import threading
import time

import numpy as np
import pytest

from prior.batching import SampleBatcher
from prior.service import PriorSampler
from tests.helpers.waiting import wait_until
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, query

ATOL = 1e-5  # batched matrix products may round differently from one query's


def steer_vectors(seed: int, n: int = 2) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).standard_normal((n, MUSIC_DIM)).astype(np.float32))


def test_run_of_several_queries_matches_each_alone(sampler):
    z = steer_vectors(0)
    requests = [  # own condition, seed, guidance and steering each; shared seed count and sampler
        {"cond": query(0), "seed": 1, "guidance": 1.0, "steer": [(z[0], 0.2)]},
        {"cond": query(1), "seed": 2, "guidance": 3.0, "steer": [(z[1], -0.1), (z[0], 0.05)]},
        {"cond": np.stack([query(2), query(3)]), "seed": 3, "guidance": 0.0, "steer": [(z[1], 0.1)]},
    ]
    alone = [sampler.sample(n_seeds=4, **r) for r in requests]
    together = sampler.run([sampler.prepare(n_seeds=4, **r) for r in requests])
    assert [t.shape for t in together] == [(4, MUSIC_DIM), (4, MUSIC_DIM), (2, 4, MUSIC_DIM)]
    for a, t in zip(alone, together, strict=True):
        np.testing.assert_allclose(t, a, atol=ATOL)
    # and the per-query settings mattered: the queries' seeds are not all alike
    assert not np.allclose(together[0], together[1], atol=0.05)


def test_plain_queries_with_one_guidance_match_too(sampler):
    prepared = [sampler.prepare(query(i), 3, seed=i) for i in range(3)]
    for i, seeds in enumerate(sampler.run(prepared)):
        np.testing.assert_allclose(seeds, sampler.sample(query(i), 3, seed=i), atol=ATOL)


def test_run_refuses_mixed_settings_and_noisy_samplers(sampler):
    with pytest.raises(ValueError, match="share"):
        sampler.run([sampler.prepare(query(), 3, seed=0), sampler.prepare(query(), 4, seed=0)])
    with pytest.raises(ValueError, match="share"):  # steered and plain: the plain one would pay the backward pass
        steered = sampler.prepare(query(), 3, steer=[(steer_vectors(0)[0], 0.1)])
        sampler.run([sampler.prepare(query(), 3, seed=0), steered])
    noisy = [sampler.prepare(query(), 3, sampler="reference", nfe=8, seed=i) for i in range(2)]
    assert not sampler.can_batch(noisy[0])
    with pytest.raises(ValueError, match="one by one"):
        sampler.run(noisy)
    assert sampler.run([noisy[0]])[0].shape == (3, MUSIC_DIM)


class GatedSampler(PriorSampler):
    """Holds its first run until ``waiting`` more calls are queued, so the test knows what gets batched;
    ``started`` is set once that first run has begun."""

    def __init__(self, base: PriorSampler, batcher_ref: list, waiting: int):
        self.__dict__.update(base.__dict__)
        self.batcher_ref, self.waiting, self.batches = batcher_ref, waiting, []
        self.started = threading.Event()

    def run(self, queries):
        if not self.batches:
            self.started.set()
            assert wait_until(lambda: self.batcher_ref[0].queued >= self.waiting), "the other calls did not queue"
        self.batches.append(len(queries))
        return super().run(queries)


def sample_in_threads(batcher: SampleBatcher, calls: list[dict], first_run_started: threading.Event) -> list:
    results: list = [None] * len(calls)

    def call(i: int) -> None:
        try:
            results[i] = batcher.sample(**calls[i])
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    threads[0].start()
    assert first_run_started.wait(30)  # the first call runs (held) alone; the others queue behind it
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_batcher_batches_concurrent_calls_and_keeps_each_result(sampler):
    ref: list = []
    gated = GatedSampler(sampler, ref, waiting=6)
    batcher = SampleBatcher(gated, max_batch=4)
    ref.append(batcher)
    z = steer_vectors(1)
    calls = [{"cond": query(i % COND_DIM), "n_seeds": 3, "seed": 10 + i} for i in range(5)]
    calls += [{"cond": query(0), "n_seeds": 3, "seed": 20 + i, "steer": [(z[i], 0.1)]} for i in range(2)]
    results = sample_in_threads(batcher, calls, gated.started)
    # run 1: the first call alone; then the 4 queued plain calls (max_batch) and the 2 steered ones together
    assert gated.batches[0] == 1 and sorted(gated.batches[1:]) == [2, 4]
    assert batcher.runs == 3 and batcher.queries == 7
    for call, got in zip(calls, results, strict=True):
        np.testing.assert_allclose(got, sampler.sample(**call), atol=ATOL)


def test_bad_request_fails_alone_and_a_failed_run_fails_its_callers_only(sampler):
    batcher = SampleBatcher(sampler)
    with pytest.raises(ValueError, match="dimension"):
        batcher.sample(np.zeros(COND_DIM + 1, np.float32))

    class Broken(PriorSampler):
        def __init__(self, base):
            self.__dict__.update(base.__dict__)
            self.fail = True

        def run(self, queries):
            if self.fail:
                self.fail = False
                raise RuntimeError("out of memory")
            return super().run(queries)

    broken = SampleBatcher(Broken(sampler))
    with pytest.raises(RuntimeError, match="out of memory"):
        broken.sample(query(), 3, seed=0)
    np.testing.assert_array_equal(broken.sample(query(), 3, seed=0), sampler.sample(query(), 3, seed=0))


def test_lone_call_is_exactly_sample(sampler):
    batcher = SampleBatcher(sampler)
    z = steer_vectors(2)
    args = {"cond": query(1), "n_seeds": 5, "guidance": 2.0, "steer": [(z[0], 0.1)], "seed": 4}
    np.testing.assert_array_equal(batcher.sample(**args), sampler.sample(**args))
    with pytest.raises(ValueError, match="max_batch"):
        SampleBatcher(sampler, max_batch=0)


def announce_then_sample(batcher: SampleBatcher, release: threading.Event, out: dict, sample: bool = True):
    """A request that announces, 'decodes its image' until ``release``, then samples (or gives up)."""
    announced = threading.Event()

    def request() -> None:
        with batcher.expecting():
            announced.set()
            release.wait(10)
            if sample:
                out["late"] = batcher.sample(query(1), 3, seed=2)

    thread = threading.Thread(target=request)
    thread.start()
    assert announced.wait(10)
    return thread


def release_once_queued(batcher: SampleBatcher, release: threading.Event) -> threading.Thread:
    """Set ``release`` once a call waits in ``batcher``'s queue: a batch about to start, waiting for announced
    callers (a deadline-bound poll on :attr:`SampleBatcher.queued`, so a slow machine cannot reorder the test)."""
    def watch() -> None:
        wait_until(lambda: batcher.queued >= 1)
        release.set()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_a_starting_batch_waits_for_announced_callers(sampler):
    batcher = SampleBatcher(sampler, max_wait=30.0)
    release, out = threading.Event(), {}
    thread = announce_then_sample(batcher, release, out)
    watcher = release_once_queued(batcher, release)
    out["early"] = batcher.sample(query(0), 3, seed=1)  # finds one caller announced: waits for it
    thread.join(10)
    watcher.join(10)
    assert (batcher.runs, batcher.queries) == (1, 2)
    np.testing.assert_allclose(out["early"], sampler.sample(query(0), 3, seed=1), atol=ATOL)
    np.testing.assert_allclose(out["late"], sampler.sample(query(1), 3, seed=2), atol=ATOL)
    assert batcher.expected == 0


def test_no_announcement_no_wait_and_a_withdrawn_one_ends_the_wait(sampler):
    batcher = SampleBatcher(sampler, max_wait=30.0)
    start = time.monotonic()
    batcher.sample(query(0), 3, seed=1)  # nobody announced: runs at once
    release = threading.Event()
    thread = announce_then_sample(batcher, release, {}, sample=False)  # e.g. its upload turns out to be a 400
    watcher = release_once_queued(batcher, release)
    batcher.sample(query(0), 3, seed=1)  # waits for the announced caller, until it withdraws
    thread.join(10)
    watcher.join(10)
    assert time.monotonic() - start < 10  # far below max_wait: leaving the block withdrew the announcement
    assert (batcher.runs, batcher.queries, batcher.expected) == (2, 2, 0)


def test_an_announced_caller_is_waited_for_at_most_max_wait(sampler):
    batcher = SampleBatcher(sampler, max_wait=0.1)
    release, out = threading.Event(), {}
    thread = announce_then_sample(batcher, release, out)
    start = time.monotonic()
    batcher.sample(query(0), 3, seed=1)
    waited = time.monotonic() - start
    release.set()
    thread.join(10)
    assert waited >= 0.1 and batcher.runs == 2  # it gave up on the late caller, which then ran alone
    np.testing.assert_allclose(out["late"], sampler.sample(query(1), 3, seed=2), atol=ATOL)


def test_without_max_wait_announcing_does_nothing(sampler):
    batcher = SampleBatcher(sampler)
    with batcher.expecting():
        assert batcher.expected == 0
    with pytest.raises(ValueError, match="max_wait"):
        SampleBatcher(sampler, max_wait=-1)


def test_which_samplers_draw_noise_while_sampling():
    from prior.sampling import draws_noise

    assert draws_noise("reference") and draws_noise("heun", churn=0.5)
    assert not draws_noise("heun") and not draws_noise("dpmpp_2m", churn=0.5)
    with pytest.raises(ValueError, match="unknown sampler"):
        draws_noise("euler")


def test_many_threads_calling_back_to_back_all_finish_with_their_own_seeds(sampler):
    """Each caller sleeps on its own ticket and a finished run wakes only its callers and the next leader: a lost
    wake-up would hang a thread here (join times out), a mixed-up hand-out would give a caller another's seeds."""
    batcher = SampleBatcher(sampler, max_batch=4)
    expected = {i: sampler.sample(query(i % COND_DIM), 2, seed=i) for i in range(12)}
    got: dict[tuple[int, int], np.ndarray] = {}

    def caller(i: int) -> None:
        for round_ in range(3):
            got[(i, round_)] = batcher.sample(query(i % COND_DIM), 2, seed=i)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert len(got) == 36 and batcher.queries == 36 and batcher.runs < 36
    for (i, _), seeds in got.items():
        np.testing.assert_allclose(seeds, expected[i], atol=ATOL)
