"""Errors of the sampling service, one class per thing the API must tell apart.

Every :class:`SamplingUnavailable` means "the service cannot sample right now, through no fault of the request":
an application error of the kind :class:`~core.errors.Unavailable`, so the exception handler answers the whole
family with 503 and the class's ``code``, wherever it is raised. Bad input (wrong dimension, NaN, too many seeds)
is a plain :class:`ValueError` from the prior and maps to 400.
"""

from __future__ import annotations

from core.errors import Unavailable


class SamplingUnavailable(Unavailable):
    """Seeds cannot be sampled now (model not set up, broker down, worker too slow): an HTTP 503."""

    code = "sampling_unavailable"


class PriorNotReady(SamplingUnavailable):
    """The prior checkpoint is missing, unreadable, or its spaces do not match the catalog or the encoders."""

    code = "prior_not_ready"


class BrokerUnavailable(SamplingUnavailable):
    """The Celery broker (Redis) cannot be reached, so the task could not be queued."""

    code = "broker_unavailable"


class WorkerTimeout(SamplingUnavailable):
    """The task was queued but no worker answered in time (worker down, overloaded, or the task was too slow)."""

    code = "worker_timeout"
