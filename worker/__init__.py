"""The Celery app and thin tasks that call services; it owns model loading per worker process."""
