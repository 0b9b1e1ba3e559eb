"""The serving layer: the models of a serving process (a web process, a Celery worker) and where sampling runs.

Loading and caching the prior and the encoders per process, checking their spaces against the catalog and
each other, readiness (:mod:`serving.runtime`); a process's set-up before its first request (:mod:`serving.process`);
its ``PRIOR_*`` settings (:mod:`serving.conf`) and errors (:mod:`serving.errors`).
"""
