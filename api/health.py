"""GET /api/health/ and GET /api/health/details/: is the service able to work?

Two answers:
- `/api/health/`, for load balancers and container health checks: no
  credentials, only whether the database and the broker answer (200, or
  503 when one does not). Two cheap probes (SELECT 1, a Redis PING), cached
  for HEALTH_CACHE_SECONDS in the Django cache, which every web process
  shares: however many clients poll, the probes run about once per period.
  Throttled per address, generously (THROTTLE_HEALTH).
- `/api/health/details/`, for operators: staff users only (404 for anyone
  else, 401 without credentials). Adds the worker ping (a broadcast that
  waits PROBE_TIMEOUT for replies), queue lengths and recent failures;
  cached the same way. `python manage.py health` prints the same report,
  uncached.

`public_health_report()` and `health_report()` do the checks; the views only
render them. The reports hold counts and booleans only: no user data, no
URLs, no keys, and errors are reduced to their exception class (a driver's
message may quote a host or a URL with its password).

Each probe has a short timeout: with the broker down the answer still comes
in well under three seconds.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notes.models import Source
from pipeline import liveness, steps
from pipeline.models import JobRecord
from studynaut.embedded import missing_broker_message

from .throttles import CACHE_ERRORS, DEFAULT_THROTTLES, ScopedThrottle

logger = logging.getLogger("api")

PROBE_TIMEOUT = 1.0
# How long a report is reused: short enough that an outage shows within
# seconds, long enough that polling clients never multiply the probes.
HEALTH_CACHE_SECONDS = 5
PUBLIC_CACHE_KEY = "health:public"
DETAILS_CACHE_KEY = "health:details"
# kombu's Redis transport keeps each priority level of a queue in its own
# list: the queue's name, then the name plus this separator and the level.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _failure(exc: BaseException) -> str:
    return f"unreachable ({type(exc).__name__})"


def _check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not reachable"
        logger.warning("health: database check failed: %r", exc)
        return {"ok": False, "error": _failure(exc)}
    return {"ok": True, "latency_ms": _elapsed_ms(started)}


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def _redis_queue_lengths(client) -> dict[str, int]:
    lengths = {}
    for queue in steps.queues():
        keys = [
            queue if step == 0 else f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}"
            for step in KOMBU_PRIORITY_STEPS
        ]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        lengths[queue] = sum(pipe.execute())
    return lengths


def _check_broker(url: str, *, queue_lengths: bool = True) -> tuple[dict, dict | None]:
    """(broker status, queue lengths or None when not asked for or they
    cannot be read)."""
    if message := missing_broker_message("This process"):
        return {"ok": False, "error": message}, None
    started = time.monotonic()
    if _is_redis(url):
        import redis

        client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
        try:
            client.ping()
            latency = _elapsed_ms(started)
            queues = _redis_queue_lengths(client) if queue_lengths else None
        except Exception as exc:
            logger.warning("health: broker check failed: %r", exc)
            return {"ok": False, "error": _failure(exc)}, None
        finally:
            client.close()
        return {"ok": True, "latency_ms": latency}, queues

    from studynaut.celery import app as celery_app

    try:
        with celery_app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=PROBE_TIMEOUT)
    except Exception as exc:
        logger.warning("health: broker check failed: %r", exc)
        return {"ok": False, "error": _failure(exc)}, None
    return {"ok": True, "latency_ms": _elapsed_ms(started)}, None


def _check_workers(url: str) -> dict:
    """How many worker processes proved they are alive lately (they keep a
    key in the shared Redis: pipeline/liveness.py); no broadcast needed."""
    try:
        count = liveness.alive_count()
    except Exception as exc:
        logger.warning("health: worker count failed: %r", exc)
        return {"ok": False, "count": 0, "error": _failure(exc)}
    if count is None:
        return {"ok": True, "count": 0, "error": "no shared Redis: the embedded worker runs in this process"}
    return {"ok": count > 0, "count": count}


def _recent_failures() -> dict | None:
    since = timezone.now() - timedelta(hours=1)
    try:
        return {
            "jobs": JobRecord.objects.filter(state=JobRecord.State.FAILURE, finished_at__gte=since).count(),
            "sources": Source.objects.filter(
                processing_status=Source.Status.FAILED, updated_at__gte=since
            ).count(),
        }
    except Exception as exc:
        logger.warning("health: failure counts unavailable: %r", exc)
        return None


def public_health_report() -> dict:
    """Whether the database and the broker answer: two cheap probes, no
    worker ping, nothing but booleans and latencies."""
    database = _check_database()
    broker, _ = _check_broker(settings.CELERY_BROKER_URL, queue_lengths=False)
    return {"healthy": database["ok"] and broker["ok"], "database": database, "broker": broker}


def health_report() -> dict:
    """The state of the database, the broker, the workers and the queues.

    `healthy` is true when the database and the broker answer; no workers
    answering is reported but does not make the service unhealthy (work
    waits in the queues until a worker comes).
    """
    # Read now, not at import: tests and commands may point it elsewhere.
    broker_url = settings.CELERY_BROKER_URL
    database = _check_database()
    broker, queues = _check_broker(broker_url)
    if broker["ok"]:
        workers = _check_workers(broker_url)
    else:
        workers = {"ok": False, "count": 0, "error": "broker unreachable"}
    return {
        "healthy": database["ok"] and broker["ok"],
        "database": database,
        "broker": broker,
        "workers": workers,
        "queues": queues,
        "failures_last_hour": _recent_failures() if database["ok"] else None,
    }


def cached_report(key: str, build: Callable[[], dict]) -> dict:
    """`build()`, reused for HEALTH_CACHE_SECONDS by every web process. The
    cache is Redis, the broker being checked: when it cannot be reached the
    report is built anew (and says so)."""
    try:
        report = cache.get(key)
    except CACHE_ERRORS as exc:
        logger.warning("health: cache unavailable (%s)", type(exc).__name__)
        return build()
    if report is None:
        report = build()
        try:
            cache.set(key, report, HEALTH_CACHE_SECONDS)
        except CACHE_ERRORS as exc:
            logger.warning("health: cache unavailable (%s)", type(exc).__name__)
    return report


def _answer(report: dict) -> Response:
    code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
    return Response(report, status=code, headers={"Cache-Control": "no-store"})


_check = inline_serializer(
    "HealthCheck",
    {
        "ok": serializers.BooleanField(),
        "latency_ms": serializers.IntegerField(required=False),
        "error": serializers.CharField(required=False),
    },
)
HEALTH_PUBLIC_SCHEMA = inline_serializer(
    "HealthPublic",
    {"healthy": serializers.BooleanField(), "database": _check, "broker": _check},
)
HEALTH_REPORT_SCHEMA = inline_serializer(
    "HealthReport",
    {
        "healthy": serializers.BooleanField(),
        "database": _check,
        "broker": _check,
        "workers": inline_serializer(
            "HealthWorkers",
            {
                "ok": serializers.BooleanField(),
                "count": serializers.IntegerField(),
                "error": serializers.CharField(required=False),
            },
        ),
        "queues": serializers.DictField(
            child=serializers.IntegerField(),
            allow_null=True,
            help_text="Messages waiting per queue; null when the broker cannot be asked.",
        ),
        "failures_last_hour": inline_serializer(
            "HealthFailures",
            {"jobs": serializers.IntegerField(), "sources": serializers.IntegerField()},
            allow_null=True,
        ),
    },
)


class HealthView(APIView):
    # No credentials (a stale token must not fail a probe). Throttled per
    # address, generously: a load balancer polling every second stays far
    # below it; a flood does not. The throttle fails open when its cache
    # (Redis) is down, so the probe still answers then.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "health"

    @extend_schema(
        operation_id="health",
        summary="Whether the database and the broker answer (no credentials)",
        description=f"Cached for {HEALTH_CACHE_SECONDS} s. Details (workers, queues, failures): "
        "/api/health/details/, for staff.",
        responses={
            200: OpenApiResponse(HEALTH_PUBLIC_SCHEMA, description="The database and the broker answer."),
            503: OpenApiResponse(
                HEALTH_PUBLIC_SCHEMA, description="The database or the broker is unreachable."
            ),
            429: OpenApiResponse(description="Too many probes from this address; see Retry-After."),
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return _answer(cached_report(PUBLIC_CACHE_KEY, public_health_report))


class HealthDetailsView(APIView):
    """Staff only: anyone else is told nothing exists here (404)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = DEFAULT_THROTTLES

    @extend_schema(
        operation_id="health_details",
        summary="Workers, queue lengths and recent failures (staff only)",
        description=f"Cached for {HEALTH_CACHE_SECONDS} s. 404 for users who are not staff.",
        responses={
            200: OpenApiResponse(HEALTH_REPORT_SCHEMA, description="The database and the broker answer."),
            503: OpenApiResponse(
                HEALTH_REPORT_SCHEMA, description="The database or the broker is unreachable."
            ),
            401: OpenApiResponse(description="Missing or invalid credentials."),
            404: OpenApiResponse(description="Not staff."),
        },
    )
    def get(self, request: Request) -> Response:
        if not request.user.is_staff:
            raise NotFound()
        return _answer(cached_report(DETAILS_CACHE_KEY, health_report))
