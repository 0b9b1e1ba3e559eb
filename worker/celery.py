"""The Celery application. Without ``CELERY_BROKER_URL`` tasks run eagerly in-process (the embedded default).

Start a worker with ``celery -A worker worker -l info`` (GPU is used when torch sees one).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("diff4steer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["worker"])
