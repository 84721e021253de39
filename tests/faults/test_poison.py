"""A poison message (a step that kills the process running it, every time)
is given up after PIPELINE_MAX_ATTEMPTS executions lost with their worker,
instead of being delivered again forever (reject-on-worker-lost requeues it
each time). The crash happens inside the step's work, after the task's
guard, like a real one (tests/fault_providers.py). No watchdog."""

import time

import pytest

from notes.models import Note, Source, Visual
from pipeline.models import JobRecord

from ..conftest import wait_for_job_records
from .conftest import FINAL, SHORT_LIMITS, jobs, status_of

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

POISON_LIMITS = {**SHORT_LIMITS, "PIPELINE_MAX_ATTEMPTS": "2"}


def supervise(stack, source_id: int, *, timeout: float, concurrency: int = 2, **worker_env) -> int:
    """Keep one worker running, as a process supervisor would: start a new one
    whenever it has died, until the source is final. Returns the restarts."""
    worker = stack.worker("w0", concurrency=concurrency, **worker_env)
    restarts = 0
    deadline = time.monotonic() + timeout
    while status_of(source_id) not in FINAL:
        assert time.monotonic() < deadline, f"source {source_id} not final after {timeout}s"
        if not worker.alive:
            stack.kill(worker)  # reap what is left of its process group
            restarts += 1
            worker = stack.worker(f"w{restarts}", concurrency=concurrency, **worker_env)
        time.sleep(0.1)
    return restarts


def test_a_step_that_kills_its_worker_every_time_fails_the_source_after_the_configured_attempts(stack):
    stack.env.update(POISON_LIMITS)
    api = stack.web().register()
    source_id = api.submit()

    restarts = supervise(
        stack,
        source_id,
        timeout=60,
        AI_PROVIDERS="tests.fault_providers.FaultAI",
        FAULT_CALLS="lesson_structure",
        FAULT_MODE="kill-worker",
    )

    wait_for_job_records(source_id)
    source = Source.objects.get(pk=source_id)
    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert "lost 2 times" in source.error_message
    assert restarts == 2  # two workers died; the third execution gave up
    records = jobs(source_id, "PROCESS_SOURCE_TEXT")
    assert len({record.task_id for record in records}) == 1  # one message, delivered three times
    assert sorted(records.values_list("state", flat=True)) == [
        JobRecord.State.FAILURE,
        JobRecord.State.STARTED,
        JobRecord.State.STARTED,
    ]
    assert not Note.objects.filter(source_id=source_id).exists()


def test_a_visual_that_kills_its_pool_process_every_time_is_failed_and_the_note_completes(stack):
    """Only the pool process dies (the worker itself lives and requeues the
    message at once): each visual is given up after the configured attempts
    and the note is completed with fallbacks."""
    stack.env.update(POISON_LIMITS)
    api = stack.web().register()
    source_id = api.submit()

    restarts = supervise(
        stack,
        source_id,
        timeout=60,
        IMAGE_PROVIDER="tests.fault_providers.FaultImages",
        FAULT_CALLS="images",
        FAULT_MODE="kill-child",
    )

    wait_for_job_records(source_id)
    source = Source.objects.get(pk=source_id)
    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert restarts == 0
    assert source.resume_attempts == 0
    note = Note.objects.get(source_id=source_id)
    for visual in Visual.objects.filter(source_id=source_id):
        assert visual.status == Visual.Status.FAILED
        assert "lost 2 times" in visual.error_message
        assert f"Illustration unavailable: {visual.description}" in note.markdown_content
        states = sorted(
            jobs(source_id, "GENERATE_VISUAL").filter(item_id=visual.pk).values_list("state", flat=True)
        )
        assert states == [JobRecord.State.STARTED, JobRecord.State.STARTED, JobRecord.State.SUCCESS]
    assert note.quiz_questions.exists()
