"""Test settings: the same embedded Postgres, in a throwaway data directory deleted at exit."""

import os
import tempfile

if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("EMBEDDED_PG_DIR", tempfile.mkdtemp(prefix="diff4steer-pgtest-"))
    os.environ.setdefault("EMBEDDED_PG_DELETE_ON_EXIT", "1")
os.environ.setdefault("DEBUG", "0")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "10000/minute"}}  # noqa: F405
