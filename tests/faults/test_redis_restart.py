"""Redis (broker and result backend) killed and restarted under load: every
source still reaches a final state; none is lost or left PROCESSING.

Two ways Redis can come back, both tested:

- "none": no persistence, the worst case. Queued and unacknowledged messages
  and the chords' counters are gone; the watchdog (celery beat) finds the
  sources that stopped moving and resumes them from their stage.
- "aof": appendonly with an fsync per write, as production should run it.
  Messages survive the kill; unacknowledged ones come back after the
  visibility timeout, and the watchdog covers whatever was in flight.

A source submitted while Redis is down is kept PENDING (the API commits it
and sends its first task on commit, robustly) and started by the watchdog
once Redis is back.
"""

import time

import pytest

from notes.models import Source
from pipeline.models import JobRecord

from ..conftest import wait_for
from ..fakes import delay
from .conftest import FINAL, assert_completed_like_a_clean_run, jobs, status_of, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

WATCHDOG = {"PIPELINE_STUCK_AFTER": "4", "PIPELINE_MAX_ATTEMPTS": "5", "WATCHDOG_INTERVAL": "1"}
SOURCES = 6


@pytest.mark.parametrize("persistence", ["none", "aof"])
def test_redis_restarted_while_sources_are_queued_and_running_loses_no_source(
    make_stack, openai_fake, persistence
):
    stack = make_stack(persistence)
    stack.env.update(WATCHDOG)
    # Slow AI calls keep two sources running while the others wait in the queue.
    openai_fake.set_default("lesson_structure", delay(1.5))
    stack.worker("w1")
    stack.beat()
    api = stack.web().register()

    ids = [api.submit(title=f"Source {n}") for n in range(SOURCES)]
    wait_for(lambda: openai_fake.count("lesson_structure") >= 2, timeout=30, message="two running sources")
    queued = Source.objects.filter(pk__in=ids, processing_status=Source.Status.PENDING).count()
    assert queued >= 2, "some sources must still be queued when Redis goes"
    stack.redis.restart(down_for=1.0)
    openai_fake.set_default("lesson_structure", None)

    stack.supervise(
        lambda: all(status_of(source_id) in FINAL for source_id in ids),
        timeout=90,
        message="every source to finish",
    )
    for source_id in ids:
        assert_completed_like_a_clean_run(source_id)
        assert jobs(source_id, "ASSEMBLE_NOTE", JobRecord.State.SUCCESS).exists()
    if persistence == "none":
        # The queued messages were lost with Redis: the watchdog started them.
        resumed = Source.objects.filter(pk__in=ids, resume_attempts__gte=1).count()
        assert resumed >= queued


def test_a_source_submitted_while_redis_is_down_is_kept_pending_and_started_by_the_watchdog(stack):
    stack.env.update({**WATCHDOG, "PIPELINE_STUCK_AFTER": "3"})
    stack.worker("w1")
    stack.beat()
    api = stack.web().register()
    stack.redis.kill()

    started = time.monotonic()
    response = api.post_text(title="Submitted while Redis is down")
    assert time.monotonic() - started < 5, "the API must answer promptly with Redis down"
    if response.status_code == 503:
        # Refused: then nothing may be kept.
        assert not Source.objects.filter(title="Submitted while Redis is down").exists()
        return
    assert response.status_code == 202, response.text
    source_id = response.json()["id"]
    time.sleep(1.0)
    assert status_of(source_id) == Source.Status.PENDING  # kept, not started, not lost
    assert api.source(source_id)["processing_status"] == "PENDING"

    stack.redis.start()
    stack.supervise(lambda: status_of(source_id) in FINAL, timeout=40, message=f"source {source_id}")
    source = wait_until_final(source_id, timeout=5)

    assert_completed_like_a_clean_run(source_id)
    assert source.resume_attempts >= 1
    assert jobs(source_id, "RESUME_SOURCE", JobRecord.State.SUCCESS).exists()
    # The web process itself recovered: the next source is sent at once.
    later = wait_until_final(api.submit(title="Submitted once Redis is back"), timeout=20)
    assert later.processing_status == Source.Status.COMPLETED
    assert later.resume_attempts == 0


RESTARTS = 30


def test_thirty_redis_restarts_under_load_leave_every_worker_alive_and_every_source_final(
    make_stack, openai_fake
):
    """Workers as the Procfile runs them. An acknowledgement that fails while
    Redis is away must neither kill the worker nor leave it idle with its
    prefetch credit used up (studynaut/broker_fixes.py). No supervisor here:
    a worker that exits, or that stops consuming, fails the test."""
    stack = make_stack("aof")
    stack.env.update({**WATCHDOG, "PIPELINE_MAX_ATTEMPTS": "100"})
    openai_fake.set_default("lesson_structure", delay(0.4))
    workers = [stack.worker(name) for name in ("w1", "w2")]
    stack.beat()
    api = stack.web().register()

    ids = []
    for number in range(RESTARTS):
        ids.append(api.submit(title=f"Source {number}"))
        time.sleep(0.8)
        stack.redis.restart(down_for=0.3)
        assert all(worker.alive for worker in workers), (
            f"a worker died at restart {number + 1}:\n{stack.logs()}"
        )

    def unfinished():
        return list(
            Source.objects.filter(pk__in=ids)
            .exclude(processing_status__in=FINAL)
            .values_list("pk", "processing_status", "processing_stage", "resume_attempts", "progress_at")
        )

    try:
        wait_for(lambda: not unfinished(), timeout=180, interval=0.5)
    except AssertionError:
        raise AssertionError(f"not final: {unfinished()}") from None
    assert all(worker.alive for worker in workers), stack.logs()
    for source_id in ids:
        wait_until_final(source_id, timeout=10)
        assert_completed_like_a_clean_run(source_id)
