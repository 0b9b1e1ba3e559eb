"""Concurrent sampling requests of one process, run as one batch: :class:`SampleBatcher`.

Why: one query's sampling is 10 network passes over a [2 x n_seeds, Dm] batch (CFG doubles it). At that size the
work is mostly fixed per pass — reading the weights (~4 MB for the demo prior, more than a core's L2 cache),
Python and dispatch overhead, on a GPU a kernel launch per operation — and barely grows with the rows. Four
queries in one pass cost 1.7x one query on CPU, not 4x (``python bench/prior_speed.py --batch-queries 4``).
A threaded web server (gunicorn gthread) or a Celery worker with the threads pool serves several requests at
once, so their sampling calls can share passes.

How: no extra thread. A caller that finds no batch running runs one at once — a lone request waits for nothing.
Callers arriving while a batch runs queue up; when it ends, one of them runs everything queued that can share a
run (same :class:`~prior.service.RunSettings`, oldest first, at most ``max_batch`` queries) and hands the results
out. That alone formed only 1.3–1.4 queries per pass under load (requests of one process rarely reach sampling at
the same moment), so a request can also announce, on arrival, that it will sample soon (:meth:`expecting`, held
while it decodes its image or reads its session): a batch about to start then waits, at most ``max_wait``
seconds, for the announced callers to join it. Nothing is announced at low load, so nothing waits.
Each query keeps its own seed, guidance and steering, so its seeds are those it would
get alone (up to float rounding in the batched matrix products); samplers that draw noise while sampling
(``draws_noise``) always run alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from prior.service import PreparedQuery, PriorSampler


class _Ticket:
    __slots__ = ("query", "result", "error", "done", "wake")

    def __init__(self, query: PreparedQuery, lock: threading.RLock):
        self.query = query
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Condition(lock)  # its caller sleeps here: until its result is in, or it is to lead


class SampleBatcher:
    """Thread-safe front of a :class:`~prior.service.PriorSampler` whose concurrent calls share batched runs."""

    def __init__(self, sampler: PriorSampler, max_batch: int = 8, max_wait: float = 0.0):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must be >= 0 seconds")
        self.sampler = sampler
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait)
        # One lock; each caller sleeps on its own ticket's condition and a gathering caller on ``_joined``, so a
        # run that ends wakes only its callers and the next leader, not every waiting thread (with 64 threads,
        # waking all of them on every arrival cost a GPU worker more than its passes).
        self._lock = threading.RLock()
        self._joined = threading.Condition(self._lock)
        self._queue: list[_Ticket] = []
        self._running = False
        self._gathering = False  # a caller is waiting for announced callers before it starts a batch
        self._expected = 0  # callers that announced a sample() call and have not made it yet
        self._local = threading.local()
        self.runs = 0  # batched runs so far, and the queries they held: runs < queries means batching happened
        self.queries = 0

    @property
    def queued(self) -> int:
        """Calls waiting for a run now (not counting those in the run in progress): how far load outruns passes."""
        with self._lock:
            return len(self._queue)

    @property
    def expected(self) -> int:
        """Callers that announced a :meth:`sample` call (:meth:`expecting`) and have not made it yet."""
        with self._lock:
            return self._expected

    def sample(
        self,
        cond: np.ndarray,
        n_seeds: int = 16,
        guidance: float | None = None,
        steer: Sequence[tuple[np.ndarray, float]] = (),
        seed: int | None = None,
        steer_schedule: str | None = None,
    ) -> np.ndarray:
        """Same arguments and result as :meth:`PriorSampler.sample` (with the checkpoint's sampler settings)."""
        query = self.sampler.prepare(cond, n_seeds, guidance, steer, seed=seed, steer_schedule=steer_schedule)
        ticket = _Ticket(query, self._lock)
        with self._lock:  # (bad input failed in prepare, alone)
            self._arrive()
            self._queue.append(ticket)
            self._joined.notify()  # a caller gathering a batch may be waiting for this one
            while not ticket.done:
                if self._running or self._gathering:
                    ticket.wake.wait()
                    continue
                batch = self._gather()
                self._running = True
                self._lock.release()
                try:
                    self._run(batch)
                finally:
                    self._lock.acquire()
                    self._running = False
                    for done in batch:
                        done.wake.notify()
                    if self._queue:
                        self._queue[0].wake.notify()  # the oldest waiting caller leads the next run
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Announce that this thread will call :meth:`sample` soon; leaving the block without it withdraws that.

        Meant for the start of a request (before its image is decoded or its session read): a batch about to
        start waits up to ``max_wait`` seconds for announced callers, so concurrent requests share a pass even
        when they reach sampling a few milliseconds apart. Does nothing when ``max_wait`` is 0 or the thread has
        already announced.
        """
        if self.max_wait <= 0 or getattr(self._local, "announced", False):
            yield
            return
        with self._lock:
            self._expected += 1
            self._local.announced = True
        try:
            yield
        finally:
            self._arrive()  # a no-op if sample() was called meanwhile

    def _arrive(self) -> None:
        """Withdraw this thread's announcement (it is sampling now, or will not sample after all)."""
        if not getattr(self._local, "announced", False):
            return
        with self._lock:  # re-entrant: sample() calls this holding the lock
            self._local.announced = False
            self._expected -= 1
            self._joined.notify()  # a gathering caller may have been waiting for this one

    def _gather(self) -> list[_Ticket]:
        """Wait (at most ``max_wait``; caller holds the lock) while announced callers may still join; take a batch."""
        deadline = time.monotonic() + self.max_wait
        self._gathering = True
        try:
            while self._expected > 0 and len(self._queue) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._joined.wait(remaining)
        finally:
            self._gathering = False
        return self._take()

    def _take(self) -> list[_Ticket]:
        """The oldest queued ticket and the queued tickets that can share its run (caller holds the lock)."""
        first = self._queue[0]
        batch = [first]
        if self.sampler.can_batch(first.query):
            batch += [t for t in self._queue[1:] if t.query.settings == first.query.settings][: self.max_batch - 1]
        taken = {id(t) for t in batch}
        self._queue = [t for t in self._queue if id(t) not in taken]
        return batch

    def _run(self, batch: list[_Ticket]) -> None:
        try:
            results = self.sampler.run([t.query for t in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, re-raised in its thread
            for ticket in batch:
                ticket.error, ticket.done = exc, True
            return
        for ticket, result in zip(batch, results, strict=True):
            ticket.result, ticket.done = result, True
        self.runs += 1
        self.queries += len(batch)
