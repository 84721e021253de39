"""Shared fixtures: the real services, a real Celery worker, users."""

import ipaddress
import socket
import time

import pytest
import redis
from django.conf import settings

from studynaut.celery import app as celery_app

LOOPBACK_NAMES = {"localhost", "testserver", "127.0.0.1", "::1", "0.0.0.0"}


class ExternalNetworkBlocked(OSError):
    """A test tried to reach a host that is not this machine."""


def _is_loopback(host) -> bool:
    if host is None:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback or host in LOOPBACK_NAMES
    except ValueError:
        return host in LOOPBACK_NAMES


def _block_external_network() -> None:
    """No test can reach the internet, whatever hosts it names: name lookups
    and connections are refused for anything but loopback. Tests use the
    fake servers of tests/fakes.py on 127.0.0.1."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise ExternalNetworkBlocked(f"tests may not resolve {host!r}: use the fakes on 127.0.0.1")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ExternalNetworkBlocked(
                f"tests may not connect to {address[0]!r}: use the fakes on 127.0.0.1"
            )
        return real_connect(sock, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect


def pytest_configure(config) -> None:
    _block_external_network()
    # Fail early and clearly when a test run is pointed at the wrong services.
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(f"The tests need PostgreSQL (DATABASE_URL), got {engine}.", returncode=3)
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.exit("The tests need Redis (CELERY_BROKER_URL=redis://...).", returncode=3)


@pytest.fixture
def redis_db():
    """The test run's Redis database, emptied before the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def celery_worker(transactional_db, redis_db):
    """A real Celery worker consuming every pipeline queue from the real Redis,
    running in threads of this process so settings overrides reach it.

    Tests that use it see committed data only (transactional_db): the worker
    works on its own database connections, like a worker in production.
    """
    from celery.contrib.testing.worker import start_worker

    from pipeline import liveness, steps

    with start_worker(
        celery_app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=list(steps.queues()),
        shutdown_timeout=30,
        loglevel="WARNING",
    ) as worker:
        yield worker
    # This test process ran tasks: it stops proving it is a worker.
    liveness.stop_beating()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="correct horse battery")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="grace", password="correct horse battery")


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    """Poll until `predicate()` returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def fake_ai(settings):
    """The AI of tests/providers.py (FakeAI), chosen through AI_PROVIDERS."""
    from tests.providers import FakeAI

    FakeAI.reset()
    settings.AI_PROVIDERS = ["tests.providers.FakeAI"]
    yield FakeAI
    FakeAI.reset()


@pytest.fixture
def fake_images(settings):
    """The image provider of tests/providers.py (FakeImages), chosen through IMAGE_PROVIDER."""
    from tests.providers import FakeImages

    FakeImages.reset()
    settings.IMAGE_PROVIDER = "tests.providers.FakeImages"
    yield FakeImages
    FakeImages.reset()


@pytest.fixture
def offline(settings):
    """The offline providers: the local AI and generated images."""
    settings.AI_PROVIDERS = ["local"]
    settings.IMAGE_PROVIDER = "offline"


def wait_for_job_records(source_id: int, *, timeout: float = 15) -> None:
    """Job records are closed by task_postrun, a moment after the task's own
    work, which may already have made the source final. Wait until the latest
    execution is closed and the open ones (executions lost with their worker
    stay open for good) stop changing."""
    from pipeline.models import JobRecord

    records = JobRecord.objects.filter(source_id=source_id)

    def latest_closed() -> bool:
        latest = records.order_by("-started_at", "-id").first()
        return latest is None or latest.state != JobRecord.State.STARTED

    wait_for(latest_closed, timeout=timeout, interval=0.05, message=f"the job records of source {source_id}")
    still_open = records.filter(state=JobRecord.State.STARTED).count()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now_open = records.filter(state=JobRecord.State.STARTED).count()
        if now_open == still_open:
            return
        still_open = now_open
