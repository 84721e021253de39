"""A killed worker's steps start again within WORKER_LOST_AFTER + 30 s, with
the broker's default visibility timeout (ten minutes: not shortened here).

Workers prove they are alive in Redis (pipeline/liveness.py); Celery beat
runs the recovery check (pipeline/recovery.py), which starts the steps of a
worker that stopped proving it again, from where their source stands. The
killed task's own message would come back only after the visibility
timeout; sending it again by hand shows that it then changes nothing.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline.models import JobRecord
from pipeline.tasks import STEP_TASKS
from studynaut.celery import app as celery_app
from tests.conftest import wait_for, wait_for_job_records

from .conftest import LECTURE, assert_completed_like_a_clean_run, jobs, wait_until_final

pytestmark = pytest.mark.faults

WORKER_LOST_AFTER = 30
# The production defaults of everything the fault suite shortens elsewhere.
DEFAULT_TIMINGS = {
    "CELERY_VISIBILITY_TIMEOUT": "600",
    "CELERY_TASK_TIME_LIMIT": "300",
    "CELERY_TASK_SOFT_TIME_LIMIT": "270",
    "TASK_RETRY_DELAY_MAX": "30",
    "FAULT_RESTORE_INTERVAL": "",
    "WORKER_LOST_AFTER": str(WORKER_LOST_AFTER),
}
FAULTY = {
    "AI_PROVIDERS": "tests.fault_providers.FaultAI",
    "IMAGE_PROVIDER": "tests.fault_providers.FaultImages",
    "FAULT_MODE": "slow",
    "FAULT_SLOW_SECONDS": "3600",
}
# One source held in each kind of step on the first worker.
HELD = {
    "ALPHA": ("PROCESS_SOURCE_TEXT", "lesson_structure@ALPHA"),
    "BRAVO": ("GENERATE_VISUAL", "images@BRAVO"),
    "CHARLIE": ("GENERATE_STUDY_TOOLS", "quiz@CHARLIE"),
}


def started(source_id: int, job_type: str):
    return jobs(source_id, job_type).order_by("started_at")


def rows_of(source_id: int) -> dict:
    return {
        "visuals": list(Visual.objects.filter(source_id=source_id).values_list("pk", "status", "image_url")),
        "notes": list(Note.objects.filter(source_id=source_id).values_list("pk", "markdown_content")),
        "questions": QuizQuestion.objects.filter(note__source_id=source_id).count(),
        "cards": Flashcard.objects.filter(note__source_id=source_id).count(),
        "status": Source.objects.filter(pk=source_id)
        .values_list("processing_status", "processing_stage")
        .get(),
    }


def test_a_killed_workers_steps_start_again_elsewhere_within_a_minute(stack):
    stack.env.update(DEFAULT_TIMINGS)
    held_worker = stack.worker(
        "w1", concurrency=5, **FAULTY, FAULT_CALLS=",".join(call for _, call in HELD.values())
    )
    stack.beat()
    api = stack.web().register()
    sources = {marker: api.submit(f"{marker} lecture.\n\n{LECTURE}") for marker in HELD}

    # Each source reaches its step on the first worker, and stays there.
    def held(marker: str, job_type: str):
        settled = timezone.now() - timedelta(seconds=3)
        return jobs(sources[marker], job_type, JobRecord.State.STARTED).filter(started_at__lt=settled).first()

    for marker, (job_type, _) in HELD.items():
        wait_for(lambda marker=marker, job_type=job_type: held(marker, job_type), timeout=60, message=marker)
    originals = {marker: held(marker, job_type) for marker, (job_type, _) in HELD.items()}
    stack.worker("w2", concurrency=3)  # a healthy worker, already running
    time.sleep(2)
    killed_at = timezone.now()
    stack.kill(held_worker)

    for source_id in sources.values():
        wait_until_final(source_id, timeout=WORKER_LOST_AFTER + 90)

    for marker, (job_type, _) in HELD.items():
        source_id = sources[marker]
        assert_completed_like_a_clean_run(source_id)
        original = JobRecord.objects.get(pk=originals[marker].pk)
        assert original.state == JobRecord.State.LOST
        again = started(source_id, job_type).filter(started_at__gt=killed_at).first()
        assert again is not None, f"{job_type} of {marker} did not start again"
        delay = (again.started_at - killed_at).total_seconds()
        assert delay <= WORKER_LOST_AFTER + 30, f"{job_type} started again {delay:.0f} s after the kill"
        print(f"{job_type}: started again {delay:.1f} s after the kill")
        assert source_id == original.source_id
        assert Source.objects.get(pk=source_id).resume_attempts == 0  # not a stuck source

    # The killed tasks' own messages, as the visibility timeout would bring
    # them back ten minutes later: they change nothing.
    before = {marker: rows_of(source_id) for marker, source_id in sources.items()}
    with celery_app.connection_for_write(stack.redis.url) as connection:
        for original in originals.values():
            kwargs = {"source_id": original.source_id}
            if original.item_id is not None:
                kwargs["item_id"] = original.item_id
            STEP_TASKS[original.job_type].apply_async(
                kwargs=kwargs, task_id=original.task_id, connection=connection
            )
    for original in originals.values():
        wait_for(
            lambda original=original: JobRecord.objects.filter(task_id=original.task_id).count() >= 2,
            timeout=30,
            message=f"the redelivered {original.job_type}",
        )
        wait_for_job_records(original.source_id)
    for marker, source_id in sources.items():
        assert rows_of(source_id) == before[marker]


def test_a_live_worker_running_a_long_step_is_not_taken_for_lost(stack):
    stack.env.update(DEFAULT_TIMINGS)
    slow = {**FAULTY, "FAULT_CALLS": "lesson_structure", "FAULT_SLOW_SECONDS": str(WORKER_LOST_AFTER + 15)}
    stack.worker("w1", **slow)
    stack.beat()
    api = stack.web().register()

    source_id = api.submit()
    wait_for(lambda: jobs(source_id, "PROCESS_SOURCE_TEXT").exists(), timeout=60, message="the long step")
    stack.worker("w2")  # a healthy worker that could take the step over
    source = wait_until_final(source_id, timeout=WORKER_LOST_AFTER + 90)

    assert_completed_like_a_clean_run(source_id)
    analysis = jobs(source_id, "PROCESS_SOURCE_TEXT")
    assert analysis.count() == 1, list(analysis.values_list("state", "worker"))
    assert analysis.get().duration_ms >= (WORKER_LOST_AFTER + 15) * 1000
    assert not JobRecord.objects.filter(source_id=source_id, state=JobRecord.State.LOST).exists()
    assert source.resume_attempts == 0


def test_a_step_that_kills_its_worker_every_time_is_given_up_after_the_allowed_losses_across_resumes(stack):
    """Each loss is found by the recovery check, which starts the step again
    under a new task id; the losses are counted per source and step, so the
    fourth execution gives up."""
    stack.env.update({**DEFAULT_TIMINGS, "WORKER_LOST_AFTER": "4", "PIPELINE_MAX_ATTEMPTS": "3"})
    poison = {
        "AI_PROVIDERS": "tests.fault_providers.FaultAI",
        "FAULT_CALLS": "lesson_structure",
        "FAULT_MODE": "kill-worker",
    }
    stack.worker("w1", **poison)
    stack.beat()
    api = stack.web().register()

    source_id = api.submit()
    restarted = stack.supervise(
        lambda: Source.objects.get(pk=source_id).processing_status == Source.Status.FAILED,
        timeout=120,
        message="the poison step to be given up",
    )

    wait_for_job_records(source_id)
    source = Source.objects.get(pk=source_id)
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert "lost 3 times" in source.error_message
    assert restarted >= 3
    records = jobs(source_id, "PROCESS_SOURCE_TEXT")
    assert records.filter(state=JobRecord.State.LOST).count() == 3
    assert records.filter(state=JobRecord.State.FAILURE).count() == 1
    assert len(set(records.values_list("task_id", flat=True))) >= 3  # new task ids on each resume
