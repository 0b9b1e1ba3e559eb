"""An index on Session.updated_at, for the retention job (manage.py purge_sessions) to find idle sessions.

Built CONCURRENTLY: the sessions table is the one that grows with traffic, and a plain CREATE INDEX would block
every new session (from-image) while it builds.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("recommend", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(fields=["updated_at"], name="session_updated_at"),
        ),
    ]
