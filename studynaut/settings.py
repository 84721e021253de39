"""Studynaut settings: one module, read from the environment.

Every setting has a safe default so that a fresh checkout runs offline on
SQLite with no keys. Nonsense values fail loudly at start-up rather than
misbehaving later. SPEC section 7 lists the names; `.env.example` documents
them. Every setting the code reads is defined here. Importing this module
writes no files.
"""

import re
import secrets
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def positive_int(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive integer, got {value}.")
    return value


def positive_float(name: str, default: float) -> float:
    value = env.float(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, got {value}.")
    return value


def throttle_rate(name: str, default: str) -> str:
    """A rate in DRF's format: a positive count per second, minute, hour or
    day ("120/min")."""
    value = env.str(name, default=default)
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name} must be a rate like 120/min (per s, min, hour, day): {value!r}.")
    return value


def csv_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env.str(name, default=default).split(",") if item.strip()]


# Where the embedded defaults keep their files: the SQLite database, uploads
# and the generated secret key.
# (Created by the commands that need it: migrate and the embedded commands.)
DATA_DIR = Path(env.str("STUDYNAUT_DATA_DIR", default=str(BASE_DIR / "data")))
SECRET_KEY_FILE = DATA_DIR / ".secret_key"


def _secret_key() -> tuple[str, bool]:
    """SECRET_KEY from the environment, else the one generated for this data
    directory (by `migrate` or an embedded command: see
    notes.apps.write_secret_key), else a random key for this process only
    (a system check warns). A secret never has a default in code. Returns
    the key and whether it is this process's own."""
    if key := env.str("SECRET_KEY", default=""):
        return key, False
    try:
        return SECRET_KEY_FILE.read_text().strip(), False
    except FileNotFoundError:
        return secrets.token_urlsafe(50), True


SECRET_KEY, SECRET_KEY_EPHEMERAL = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = csv_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = csv_list("CSRF_TRUSTED_ORIGINS", "")

# --- HTTPS ------------------------------------------------------------------
# Served over HTTPS (by this process or a proxy in front of it): redirect
# plain HTTP to https, cookies only over https, HSTS. Unless set, on when
# DEBUG is off and ALLOWED_HOSTS names a host that is not this machine's
# loopback: a site reachable under a real name is a deployment. The default
# hosts (localhost, 127.0.0.1, [::1]) keep local use on plain HTTP working:
# the test suites, `docker compose up` on a laptop, the embedded commands.
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
HTTPS = env.bool(
    "HTTPS",
    default=not DEBUG
    and any(host not in LOOPBACK_HOSTS and not host.endswith(".localhost") for host in ALLOWED_HOSTS),
)
SECURE_SSL_REDIRECT = HTTPS
# Load balancers and the compose health check probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Behind a TLS-terminating proxy, the request reaches this process over
# plain HTTP: name the header in which the proxy says it was https (e.g.
# X-Forwarded-Proto). Only with a proxy that sets (and overwrites) it: a
# client could send it itself. Unset, no header is trusted.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# Absolute base of links the API hands out (generated images).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "notes",
    "pipeline",
    "api",
]

MIDDLEWARE = [
    # First: a body over its route's limit is refused before anything reads it.
    "api.body_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studynaut.urls"
WSGI_APPLICATION = "studynaut.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
# Reuse connections between tasks and requests (docs/benchmarks.md: a new
# connection per task cost PostgreSQL four times the CPU).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded run has a worker thread beside the main one: wait for locks.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
# Until collectstatic has filled STATIC_ROOT, WhiteNoise serves from the apps
# (WHITENOISE_USE_FINDERS) and only warns that the folder is missing.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
# Serve static files straight from the apps, so DEBUG=0 works without a
# collectstatic step (the release step still runs it for production).
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"

# --- Limits -----------------------------------------------------------------
MAX_UPLOAD_BYTES = positive_int("MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
MAX_TEXT_CHARS = positive_int("MAX_TEXT_CHARS", 200_000)
# Uploads above this size go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Django's own guard of a non-file body, never below the largest text body:
# MAX_TEXT_CHARS characters at 12 bytes each (a surrogate pair escaped in
# JSON) plus room for the other fields, as api.body_limits.text_body_bytes.
# Every route's own, smaller limit is applied before (api.body_limits).
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_TEXT_CHARS * 12 + 64 * 1024

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an API client without credentials gets 401 with a
    # WWW-Authenticate header rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=20),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only (nested at most a few levels), unless a view says otherwise:
    # no endpoint parses a form or a file it does not expect.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.DepthLimitedJSONParser"],
    # Throttles that let requests through when the cache (Redis) is down.
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttles.AnonThrottle",
        "api.throttles.UserThrottle",
        "api.throttles.ScopedThrottle",
    ],
    # Proxies in front of the app: 0 trusts no X-Forwarded-For, so nobody can
    # dodge a throttle by forging it.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        # Generous enough for a client polling many sources at once; creating
        # sources (the expensive part) has its own, stricter scope.
        "anon": throttle_rate("THROTTLE_ANON", "120/min"),
        "user": throttle_rate("THROTTLE_USER", "3000/min"),
        "sources_create": throttle_rate("THROTTLE_SOURCES_CREATE", "240/min"),
        "auth": throttle_rate("THROTTLE_AUTH", "120/min"),
        # GET /api/health/ per address: ten a second; a load balancer polls
        # every few seconds.
        "health": throttle_rate("THROTTLE_HEALTH", "600/min"),
    },
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Failed logins to the admin allowed per client address and per username
# (api/login_throttle.py), in the throttles' format.
ADMIN_LOGIN_FAILURE_RATES = {
    "address": throttle_rate("THROTTLE_ADMIN_LOGIN_ADDRESS", "30/hour"),
    "username": throttle_rate("THROTTLE_ADMIN_LOGIN_USERNAME", "10/hour"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Studynaut API",
    "DESCRIPTION": "Turn a study source into a note with pictures, a quiz and flashcards.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache (throttling, rate limits when Redis is absent) -------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------
# Unset: the in-memory broker of the embedded commands (manage.py process and
# serve). The web server, workers and beat refuse to start on it
# (studynaut/embedded.py): their work would stay in their own memory.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
EMBEDDED = CELERY_BROKER_URL.startswith("memory://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default="cache+memory://" if EMBEDDED else CELERY_BROKER_URL,
)
if not EMBEDDED and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Shared throttling state for every web process.
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CELERY_BROKER_URL,
        "KEY_PREFIX": "studynaut",
        # A Redis that does not answer fails a throttle or a health check
        # within a second (both then go on without it), never after the
        # operating system's connect timeout.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }

PROVIDER_MAX_RETRIES = env.int("PROVIDER_MAX_RETRIES", default=3)
PROVIDER_TIMEOUT = positive_float("PROVIDER_TIMEOUT", 30.0)
PROVIDER_BACKOFF_BASE = positive_float("PROVIDER_BACKOFF_BASE", 1.0)
PROVIDER_BACKOFF_MAX = positive_float("PROVIDER_BACKOFF_MAX", 20.0)
if PROVIDER_MAX_RETRIES < 0:
    raise ImproperlyConfigured("PROVIDER_MAX_RETRIES must be 0 or more.")

# The visibility timeout leads: a task held by a dead worker runs again after
# it, so every task, with its retry delay, must end well before it. Unless set
# explicitly, the time limits and retry delays follow from it (a short
# CELERY_VISIBILITY_TIMEOUT gives short limits); explicit values that break
# the rule fail loudly.
CELERY_VISIBILITY_TIMEOUT = positive_int("CELERY_VISIBILITY_TIMEOUT", 600)
if CELERY_VISIBILITY_TIMEOUT < 5:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must be at least 5 seconds.")
# Countdown of task-level retries (database or broker hiccups, a join that
# is not ready yet, the shared rate limit).
TASK_RETRY_DELAY_MAX = positive_int("TASK_RETRY_DELAY_MAX", max(1, min(30, CELERY_VISIBILITY_TIMEOUT // 10)))
CELERY_TASK_TIME_LIMIT = positive_int(
    "CELERY_TASK_TIME_LIMIT",
    min(300, CELERY_VISIBILITY_TIMEOUT - TASK_RETRY_DELAY_MAX - max(1, CELERY_VISIBILITY_TIMEOUT // 10)),
)
CELERY_TASK_SOFT_TIME_LIMIT = positive_int(
    "CELERY_TASK_SOFT_TIME_LIMIT",
    max(1, CELERY_TASK_TIME_LIMIT - max(1, min(30, CELERY_TASK_TIME_LIMIT // 10))),
)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT + TASK_RETRY_DELAY_MAX:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT} s) must exceed CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT} s) plus TASK_RETRY_DELAY_MAX ({TASK_RETRY_DELAY_MAX} s), "
        "or a running task would be delivered twice."
    )
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXTENDED = False
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No remote control of the workers (the pidbox: ping, inspect, revoke, shut
# down). The pipeline needs none of it: workers prove they are alive in Redis
# (pipeline/liveness.py), which the health details count. And with it, a
# worker whose Redis went away for a moment died in kombu while acknowledging
# a task on the lost connection (AttributeError: 'NoneType' object has no
# attribute 'hostname'): measured, 4 of 4 runs of 30 Redis restarts under
# load lost a worker with it, none of 5 without (docs/reliability.md). Flower
# then watches without controlling.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = env.bool("CELERY_WORKER_ENABLE_REMOTE_CONTROL", default=False)
# Task events feed Flower's live view (it cannot switch them on remotely).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=True)
CELERY_TASK_SEND_SENT_EVENT = env.bool("CELERY_TASK_SEND_SENT_EVENT", default=False)
CELERY_TIMEZONE = TIME_ZONE
# Chord joins live in the result backend: keep them far longer than the
# slowest chord with all its retries.
CELERY_RESULT_EXPIRES = positive_int("CELERY_RESULT_EXPIRES", 24 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # How often a worker looks for messages whose worker died (their
    # visibility timeout passed): by default only every ~100 s, which would
    # make a short visibility timeout meaningless.
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
    # A worker killed while holding the sweep's lock blocks sweeps this long.
    "unacked_mutex_expire": max(5, min(300, CELERY_VISIBILITY_TIMEOUT // 2)),
}
if EMBEDDED:
    # The in-memory broker is polled: poll often, the queue is in this process.
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.05
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_POOL_LIMIT = env.int("CELERY_BROKER_POOL_LIMIT", default=10)
# Celery's Django fix-up closes the database connection before and after every
# task, whatever CONN_MAX_AGE says, unless this is set (then it recycles a
# connection every this many tasks). pipeline.signals closes connections at
# task boundaries the way Django does at request boundaries instead, so that
# DATABASE_CONN_MAX_AGE applies to workers too (0 closes the connection after
# every task).
CELERY_DB_REUSE_MAX = 1000

# Each task's queue comes from the step table (pipeline/steps.py).
CELERY_TASK_DEFAULT_QUEUE = "bookkeeping"
CELERY_TASK_ROUTES = ("pipeline.canvas.route_task",)

# Redis shared by every process for coordination (rate limits, workers' signs
# of life, progress events): the result backend's, else the broker's; none on
# the embedded default (one process keeps that state in memory).
SHARED_REDIS_URL = next(
    (url for url in (CELERY_RESULT_BACKEND, CELERY_BROKER_URL) if url.startswith(("redis://", "rediss://"))),
    "",
)
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="studynaut:")

# --- Pipeline ---------------------------------------------------------------
PIPELINE_STUCK_AFTER = positive_int("PIPELINE_STUCK_AFTER", 900)
PIPELINE_MAX_ATTEMPTS = positive_int("PIPELINE_MAX_ATTEMPTS", 3)
# Look for stuck sources several times per PIPELINE_STUCK_AFTER, at least
# once a minute.
WATCHDOG_INTERVAL = positive_float("WATCHDOG_INTERVAL", min(60.0, max(1.0, PIPELINE_STUCK_AFTER / 4)))
# How long a fan-out's join (ASSEMBLE_NOTE, MERGE_LESSON_STRUCTURE) waits, in
# retries, for items that are not final (an early or duplicate chord join).
JOIN_MAX_WAITS = positive_int("JOIN_MAX_WAITS", 10)
# Retries of a step after a transient failure (a provider's, the database's).
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=5)
# A worker that shows no sign of life for this long is lost: the steps it ran
# start again elsewhere (pipeline/recovery.py), whatever the visibility timeout.
WORKER_LOST_AFTER = positive_int("WORKER_LOST_AFTER", 30)
RECOVERY_INTERVAL = positive_float("RECOVERY_INTERVAL", max(1.0, min(15.0, WORKER_LOST_AFTER / 3)))
# At most this many images per source: the first placeholders, in order.
MAX_VISUALS_PER_SOURCE = positive_int("MAX_VISUALS_PER_SOURCE", 12)
CELERY_BEAT_SCHEDULE = {
    "pipeline-watchdog": {
        "task": "pipeline.watchdog",
        "schedule": WATCHDOG_INTERVAL,
        "options": {"expires": WATCHDOG_INTERVAL},
    },
    "pipeline-recover-lost-work": {
        "task": "pipeline.recover_lost_work",
        "schedule": RECOVERY_INTERVAL,
        "options": {"expires": RECOVERY_INTERVAL},
    },
}

# --- Providers --------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_TRANSCRIBE_MODEL = env.str("OPENAI_TRANSCRIBE_MODEL", default="whisper-1")
OPENAI_RPM = positive_int("OPENAI_RPM", 60)
AI_PROVIDERS = csv_list("AI_PROVIDERS", "openai,local" if OPENAI_API_KEY else "local")
if not AI_PROVIDERS:
    raise ImproperlyConfigured("AI_PROVIDERS must name at least one provider.")

SERPAPI_API_KEY = env.str("SERPAPI_API_KEY", default="")
SERPAPI_BASE_URL = env.str("SERPAPI_BASE_URL", default="") or None
SERPAPI_RPM = positive_int("SERPAPI_RPM", 60)
IMAGE_PROVIDER = env.str("IMAGE_PROVIDER", default="serpapi" if SERPAPI_API_KEY else "offline")

YOUTUBE_LANGUAGES = csv_list("YOUTUBE_LANGUAGES", "en,en-US,en-GB")
# Every request to YouTube (transcripts, metadata, audio) goes through this
# http(s) proxy when set (cloud addresses are often refused by YouTube).
YOUTUBE_PROXY_URL = env.str("YOUTUBE_PROXY_URL", default="").strip()
# Longer videos are refused before anything is downloaded.
YOUTUBE_MAX_DURATION = positive_int("YOUTUBE_MAX_DURATION", 4 * 3600)
# The largest audio download of one video without captions.
YOUTUBE_MAX_AUDIO_BYTES = positive_int("YOUTUBE_MAX_AUDIO_BYTES", 200 * 1024 * 1024)
# The largest file the transcription provider takes; longer audio is split
# into parts of at most AUDIO_SEGMENT_SECONDS that overlap a little.
OPENAI_TRANSCRIBE_MAX_BYTES = positive_int("OPENAI_TRANSCRIBE_MAX_BYTES", 25 * 1024 * 1024)
AUDIO_SEGMENT_SECONDS = positive_float("AUDIO_SEGMENT_SECONDS", 600.0)
AUDIO_SEGMENT_OVERLAP_SECONDS = positive_float("AUDIO_SEGMENT_OVERLAP_SECONDS", 5.0)

# PDFs are read in a child process with these budgets (pipeline/extractors/pdf.py);
# its time limit always ends before the task's soft time limit.
PDF_EXTRACTION_MEMORY_LIMIT = positive_int("PDF_EXTRACTION_MEMORY_LIMIT", 1024 * 1024 * 1024)
PDF_EXTRACTION_TIME_LIMIT = positive_float("PDF_EXTRACTION_TIME_LIMIT", 120.0)
PDF_MAX_DECOMPRESSED_BYTES = positive_int("PDF_MAX_DECOMPRESSED_BYTES", 256 * 1024 * 1024)
PDF_MAX_CONTENT_TOKENS = positive_int("PDF_MAX_CONTENT_TOKENS", 5_000_000)
# Links to generated (offline) pictures expire; the API signs them anew.
GENERATED_IMAGE_LINK_MAX_AGE = positive_int("GENERATED_IMAGE_LINK_MAX_AGE", 24 * 3600)
# Above this many characters the lesson structure is built from chunks and
# merged, so the end of a long transcript still reaches the note.
AI_CHUNK_CHARS = positive_int("AI_CHUNK_CHARS", 24_000)
# Longest wait for a shared rate-limit token before the call is retried later.
RATE_LIMIT_MAX_WAIT = positive_float("RATE_LIMIT_MAX_WAIT", min(30.0, CELERY_TASK_SOFT_TIME_LIMIT / 4))
OPENAI_TRANSCRIBE_TIMEOUT = positive_float("OPENAI_TRANSCRIBE_TIMEOUT", PROVIDER_TIMEOUT * 8)

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "task_context": {"()": "pipeline.logging.TaskContextFilter"},
        "redact_secrets": {"()": "pipeline.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "[source=%(source_id)s task=%(task_name)s id=%(task_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["task_context", "redact_secrets"],
        },
    },
    # Libraries that may log URLs or requests: their records are redacted at
    # the source, whatever handler ends up writing them.
    "loggers": {
        "urllib3.connectionpool": {"filters": ["redact_secrets"]},
        "httpx": {"filters": ["redact_secrets"]},
        "httpx2": {"filters": ["redact_secrets"]},
        "openai": {"filters": ["redact_secrets"]},
        # Unhandled errors of Django's own views (the admin): their traceback
        # is redacted for whichever handler prints it.
        "django.request": {"filters": ["redact_secrets"]},
        "studynaut": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "pipeline": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "notes": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "api": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
