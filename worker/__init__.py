"""The Celery app (:mod:`worker.celery`) and its thin tasks (:mod:`worker.tasks`), which call the serving layer."""
