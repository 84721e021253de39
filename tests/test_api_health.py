"""GET /api/health/ (public, cheap, cached), GET /api/health/details/ (staff)
and health_report()."""

import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from api import health
from api.health import HEALTH_CACHE_SECONDS, health_report
from notes.models import Source
from pipeline import steps
from pipeline.models import JobRecord
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import client_for, make_source
from tests.faults.conftest import RedisServer

pytestmark = pytest.mark.django_db

HEALTH = "/api/health/"
DETAILS = "/api/health/details/"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def staff(db) -> APIClient:
    return client_for(get_user_model().objects.create_user(username="ops", password="x", is_staff=True))


# --- The public answer ------------------------------------------------------------------------


def test_health_is_200_without_credentials_when_database_and_broker_answer(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {
        "healthy": True,
        "database": {"ok": True, "latency_ms": response.json()["database"]["latency_ms"]},
        "broker": {"ok": True, "latency_ms": response.json()["broker"]["latency_ms"]},
    }
    assert response["Cache-Control"] == "no-store"


@pytest.fixture
def private_broker(settings, tmp_path):
    """A redis-server of this test's own, as the broker: its command counts
    are this test's alone."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.CELERY_BROKER_URL = server.url
    try:
        yield server.client()
    finally:
        server.kill()


def command_calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_the_public_answer_pings_no_worker_and_reads_no_queue(client, private_broker):
    for _ in range(20):
        assert client.get(HEALTH).status_code == 200

    # A worker ping is a broadcast (PUBLISH); queue lengths are LLENs.
    assert command_calls(private_broker, "publish") == 0
    assert command_calls(private_broker, "llen") == 0


def test_the_probes_run_once_per_period_however_many_clients_poll(client, private_broker):
    before = command_calls(private_broker, "ping")

    for _ in range(50):
        assert client.get(HEALTH).status_code == 200

    # The broker probe is one PING.
    assert command_calls(private_broker, "ping") - before == 1


def test_the_answer_is_cached_for_a_few_seconds_and_then_probed_again(client, settings):
    assert client.get(HEALTH).status_code == 200
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER

    assert client.get(HEALTH).status_code == 200  # the cached answer
    cache.delete(health.PUBLIC_CACHE_KEY)  # as HEALTH_CACHE_SECONDS passing would
    assert client.get(HEALTH).status_code == 503
    assert 1 <= HEALTH_CACHE_SECONDS <= 10


def test_an_invalid_token_does_not_stop_the_health_check(client):
    response = client.get(HEALTH, HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 200


def test_the_probe_is_throttled_generously(client):
    # Ten minutes of a load balancer probing every two seconds: answered.
    assert {client.get(HEALTH).status_code for _ in range(300)} == {200}
    # A flood from one address is not (THROTTLE_HEALTH, 600/min).
    flood = [client.get(HEALTH).status_code for _ in range(301)]
    assert flood[:300] == [200] * 300
    assert flood[300] == 429


def test_a_flood_from_one_address_is_throttled(client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "health", "5/min")

    answers = [client.get(HEALTH).status_code for _ in range(7)]

    assert answers[:5] == [200] * 5
    assert answers[5:] == [429, 429]


def test_health_is_503_and_fast_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER

    started = time.monotonic()
    response = client.get(HEALTH)
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 3
    body = response.json()
    assert body["healthy"] is False
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": False, "error": "unreachable (ConnectionError)"}


def test_health_is_503_when_the_database_is_down(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise DatabaseError("could not connect to server: password authentication failed for user x")

    monkeypatch.setattr(health, "connection", BrokenConnection())

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "error": "unreachable (DatabaseError)"}
    assert "password" not in response.content.decode()


def test_a_web_process_without_a_broker_says_why_it_is_unhealthy(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    settings.EMBEDDED = True

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert "CELERY_BROKER_URL is not set" in response.json()["broker"]["error"]


# --- The details, for staff ------------------------------------------------------------------


def test_the_details_need_credentials(client):
    assert client.get(DETAILS).status_code == 401


def test_the_details_exist_for_staff_only(api, staff):
    assert staff.get(DETAILS).status_code == 200
    assert api.get(DETAILS).status_code == 404


def test_the_details_show_workers_queues_and_failures_to_staff(staff):
    response = staff.get(DETAILS)

    assert response.status_code == 200
    body = response.json()
    assert body["healthy"] is True
    assert set(body["queues"]) == {"bookkeeping", "ai", "images"}
    assert body["failures_last_hour"] == {"jobs": 0, "sources": 0}
    # This suite runs no worker: reported, but still healthy.
    assert body["workers"] == {"ok": False, "count": 0}
    assert response["Cache-Control"] == "no-store"


def test_a_staff_session_sees_the_details_too(client, settings):
    admin = get_user_model().objects.create_user(username="ops", password="x", is_staff=True)
    client.force_login(admin)

    assert client.get(DETAILS).status_code == 200


def test_the_details_are_503_and_fast_when_the_broker_is_down(staff, settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER

    started = time.monotonic()
    response = staff.get(DETAILS)

    assert response.status_code == 503
    assert time.monotonic() - started < 3
    body = response.json()
    assert body["broker"] == {"ok": False, "error": "unreachable (ConnectionError)"}
    assert body["workers"]["count"] == 0
    assert body["queues"] is None


def test_the_report_reads_the_broker_url_at_call_time(settings):
    assert health_report()["broker"]["ok"] is True

    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER

    assert health_report()["broker"]["ok"] is False


def test_queue_lengths_count_waiting_messages(settings, redis_db):
    queue = steps.GENERATE_STUDY_TOOLS.queue
    redis_db.lpush(queue, "a", "b")
    redis_db.lpush(f"{queue}\x06\x163", "c")  # a message of priority 3

    assert health_report()["queues"][queue] == 3


def test_failures_of_the_last_hour_are_counted(user):
    now = timezone.now()
    source = make_source(user, processing_status=Source.Status.FAILED)
    old = make_source(user, processing_status=Source.Status.FAILED)
    Source.objects.filter(pk=old.pk).update(updated_at=now - timedelta(hours=2))
    make_source(user, processing_status=Source.Status.COMPLETED)
    for finished, state in [
        (now - timedelta(minutes=5), JobRecord.State.FAILURE),
        (now - timedelta(minutes=50), JobRecord.State.FAILURE),
        (now - timedelta(hours=3), JobRecord.State.FAILURE),
        (now - timedelta(minutes=5), JobRecord.State.SUCCESS),
    ]:
        JobRecord.objects.create(
            task_id=uuid.uuid4().hex,
            job_type="PROCESS_SOURCE_TEXT",
            source=source,
            state=state,
            started_at=finished - timedelta(seconds=1),
            finished_at=finished,
        )

    assert health_report()["failures_last_hour"] == {"jobs": 2, "sources": 1}


@pytest.mark.parametrize("path", [HEALTH, DETAILS])
def test_the_reports_show_no_user_data_or_urls(staff, user, settings, path):
    make_source(user, title="Secret diary", processing_status=Source.Status.FAILED, error_message="private")

    text = staff.get(path).content.decode()

    for private in ("ada", "Secret diary", "private", settings.CELERY_BROKER_URL, "redis://"):
        assert private not in text


def test_a_non_redis_broker_that_is_down_is_reported_fast(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest-password@127.0.0.1:1//"

    started = time.monotonic()
    report = health_report()

    assert time.monotonic() - started < 3
    assert report["healthy"] is False
    assert report["broker"]["ok"] is False
    assert "guest-password" not in str(report)
