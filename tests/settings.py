"""Settings for the test suite: the real services, found on their usual ports
unless the environment says otherwise (see scripts/test)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studynaut")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# Tests never reach the internet: no real keys, backoff kept short.
os.environ["OPENAI_API_KEY"] = ""
os.environ["SERPAPI_API_KEY"] = ""
os.environ.setdefault("PROVIDER_BACKOFF_BASE", "0.05")
os.environ.setdefault("PROVIDER_BACKOFF_MAX", "0.2")
os.environ.setdefault("PROVIDER_TIMEOUT", "3")
# The in-process worker's threads come and go: no connection outlives a task.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

from studynaut.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
