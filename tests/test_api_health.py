"""GET /api/health/ and health_report()."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from api import health
from api.health import health_report
from notes.models import Source
from pipeline import steps
from pipeline.models import JobRecord
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import make_source

pytestmark = pytest.mark.django_db

HEALTH = "/api/health/"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def test_health_is_200_without_credentials_when_database_and_broker_answer(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["healthy"] is True
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert set(body["queues"]) == {"bookkeeping", "ai", "images"}
    assert body["failures_last_hour"] == {"jobs": 0, "sources": 0}
    assert response["Cache-Control"] == "no-store"


def test_no_worker_answering_is_reported_but_still_healthy(client):
    # This suite runs no worker.
    body = client.get(HEALTH).json()

    assert body["workers"] == {"ok": False, "count": 0}
    assert body["healthy"] is True


def test_an_invalid_token_does_not_stop_the_health_check(client):
    response = client.get(HEALTH, HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 200


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
    assert body["workers"]["count"] == 0
    assert body["queues"] is None


def test_health_is_503_when_the_database_is_down(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise DatabaseError("could not connect to server: password authentication failed for user x")

    monkeypatch.setattr(health, "connection", BrokenConnection())

    response = client.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == {"ok": False, "error": "unreachable (DatabaseError)"}
    assert body["failures_last_hour"] is None
    assert "password" not in response.content.decode()


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


def test_the_report_shows_no_user_data_or_urls(client, user, settings):
    make_source(user, title="Secret diary", processing_status=Source.Status.FAILED, error_message="private")

    text = client.get(HEALTH).content.decode()

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
