"""Concurrent sampling requests of one process, run as one batch: :class:`SampleBatcher`.

Why: one query's sampling is 10 network passes over a [2 x n_seeds, Dm] batch (CFG doubles it). At that size the
work is mostly fixed per pass — reading the weights (~4 MB for the demo prior, more than a core's L2 cache),
Python and dispatch overhead, on a GPU a kernel launch per operation — and barely grows with the rows. Four
queries in one pass cost 1.7x one query on CPU, not 4x (``python bench/prior_speed.py --batch-queries 4``).
A threaded web server (gunicorn gthread) or a Celery worker with the threads pool serves several requests at
once, so their sampling calls can share passes.

How: no timer and no extra thread. A caller that finds no batch running runs one at once — a lone request waits
for nothing. Callers arriving while a batch runs queue up; when it ends, one of them runs everything queued that
can share a run (same :class:`~prior.service.RunSettings`, oldest first, at most ``max_batch`` queries) and
hands the results out. Each query keeps its own seed, guidance and steering, so its seeds are those it would
get alone (up to float rounding in the batched matrix products); samplers that draw noise while sampling
(``draws_noise``) always run alone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from prior.service import PreparedQuery, PriorSampler


class _Ticket:
    __slots__ = ("query", "result", "error", "done")

    def __init__(self, query: PreparedQuery):
        self.query = query
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class SampleBatcher:
    """Thread-safe front of a :class:`~prior.service.PriorSampler` whose concurrent calls share batched runs."""

    def __init__(self, sampler: PriorSampler, max_batch: int = 8):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.sampler = sampler
        self.max_batch = int(max_batch)
        self._cond = threading.Condition()
        self._queue: list[_Ticket] = []
        self._running = False
        self.runs = 0  # batched runs so far, and the queries they held: runs < queries means batching happened
        self.queries = 0

    def sample(
        self,
        cond: np.ndarray,
        n_seeds: int = 16,
        guidance: float | None = None,
        steer: Sequence[tuple[np.ndarray, float]] = (),
        seed: int | None = None,
    ) -> np.ndarray:
        """Same arguments and result as :meth:`PriorSampler.sample` (with the checkpoint's sampler settings)."""
        ticket = _Ticket(self.sampler.prepare(cond, n_seeds, guidance, steer, seed=seed))  # bad input fails alone
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done:
                if self._running:
                    self._cond.wait()
                    continue
                batch = self._take()
                self._running = True
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

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
