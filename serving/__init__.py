"""The serving layer: the models of a serving process (a web process, a Celery worker) and where sampling runs.

- :mod:`serving.engine`: what the web side calls (encode an image or tags, sample seeds, the prior's spaces and
  steering defaults); the spaces come from the checkpoint's config.json alone where sampling runs elsewhere.
- :mod:`serving.sampling`: where sampling runs: in this process through its batcher, or as a Celery task sent by
  name (the task itself is :mod:`worker.tasks`, which calls back into this module).
- :mod:`serving.runtime`: loading and caching the prior and the encoders per process, their space checks against
  the catalog and each other, readiness.
- :mod:`serving.process`: a serving process's set-up before its first request (warm-up, ``gc.freeze()``).
- :mod:`serving.conf` (``PRIOR_*``, checked at boot by :mod:`serving.apps`) and :mod:`serving.errors`.
"""
