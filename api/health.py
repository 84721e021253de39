"""GET /api/health/: is the service able to work?

`health_report()` does the checks; the view only renders them, so a
management command (or a container health check) can reuse them. The report
holds counts and booleans only: no user data, no URLs, no keys, and errors are
reduced to their exception class (a driver's message may quote a host or a
URL with its password).

Each probe has a short timeout: with the broker down the answer still comes
in well under three seconds.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notes.models import Source
from pipeline import steps
from pipeline.models import JobRecord

logger = logging.getLogger("api")

PROBE_TIMEOUT = 1.0
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


def _check_broker(url: str) -> tuple[dict, dict | None]:
    """(broker status, queue lengths or None when they cannot be read)."""
    started = time.monotonic()
    if _is_redis(url):
        import redis

        client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
        try:
            client.ping()
            latency = _elapsed_ms(started)
            queues = _redis_queue_lengths(client)
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
    """How many workers answer a ping within the timeout."""
    from studynaut.celery import app as celery_app

    try:
        with celery_app.connection_for_write(url) as conn:
            replies = celery_app.control.ping(timeout=PROBE_TIMEOUT, connection=conn) or []
    except Exception as exc:
        logger.warning("health: worker ping failed: %r", exc)
        return {"ok": False, "count": 0, "error": _failure(exc)}
    count = len({name for reply in replies for name in reply})
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


_check = inline_serializer(
    "HealthCheck",
    {
        "ok": serializers.BooleanField(),
        "latency_ms": serializers.IntegerField(required=False),
        "error": serializers.CharField(required=False),
    },
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
    # No credentials, and no throttling: a probe must not depend on a user,
    # nor on the cache that lives in the very Redis being checked.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        operation_id="health",
        summary="Reachability of the database, the broker and the workers; queue lengths",
        responses={
            200: OpenApiResponse(HEALTH_REPORT_SCHEMA, description="The database and the broker answer."),
            503: OpenApiResponse(
                HEALTH_REPORT_SCHEMA, description="The database or the broker is unreachable."
            ),
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code, headers={"Cache-Control": "no-store"})
