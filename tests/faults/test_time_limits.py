"""Steps that outlast their time limits (CELERY_TASK_SOFT_TIME_LIMIT 3 s,
CELERY_TASK_TIME_LIMIT 4 s here) end the source resumed or FAILED with a
message, never stuck in PROCESSING.

The soft limit interrupts a slow call (SoftTimeLimitExceeded, which the step
turns into an outcome). Only code that never returns to Python ignores it;
tests/fault_providers.py's hang mode models that, so that the hard limit (the
pool process killed) is hit for real.
"""

import pytest

from notes.models import Note, Source, Visual
from pipeline.models import JobRecord

from ..fakes import delay
from .conftest import SHORT_LIMITS, assert_completed_like_a_clean_run, jobs, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def limited(stack):
    stack.env.update(SHORT_LIMITS)
    return stack


def test_an_ai_call_slower_than_the_soft_time_limit_fails_the_source_with_a_message(limited, openai_fake):
    openai_fake.set_default("lesson_structure", delay(20))
    limited.worker("w1")
    api = limited.web().register()

    source = wait_until_final(api.submit(), timeout=30)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert source.error_message == "The step took longer than 3 s and was stopped."
    assert not Note.objects.filter(source=source).exists()
    assert api.source(source.pk)["processing_status"] == "FAILED"


def test_an_image_search_slower_than_the_soft_time_limit_fails_only_its_visual_and_the_note_completes(
    limited, serpapi_fake
):
    """A slow image provider is a provider failure: the visual records it and
    the chord goes on (SPEC: GENERATE_VISUAL never ends in a Celery failure)."""
    serpapi_fake.script("images", [delay(20)])  # the first search only
    limited.worker("w1")
    api = limited.web().register()

    source = wait_until_final(api.submit(), timeout=30)

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    visuals = list(Visual.objects.filter(source=source))
    failed = [visual for visual in visuals if visual.status == Visual.Status.FAILED]
    assert len(failed) == 1
    assert "took longer than 3 s" in failed[0].error_message
    note = Note.objects.get(source=source)
    assert f"Illustration unavailable: {failed[0].description}" in note.markdown_content
    assert note.quiz_questions.exists()
    assert source.resume_attempts == 0
    assert not jobs(source.pk, "GENERATE_VISUAL", JobRecord.State.FAILURE).exists()


def test_a_visual_killed_by_the_hard_time_limit_fails_the_chord_and_its_error_callback_resumes_the_source(
    limited, tmp_path
):
    """No watchdog here: the chord's error callback alone must resume."""
    limited.worker(
        "w1",
        IMAGE_PROVIDER="tests.fault_providers.FaultImages",
        FAULT_CALLS="images",
        FAULT_MODE="hang",
        FAULT_ONCE_FILE=str(tmp_path / "hung-once"),
    )
    api = limited.web().register()

    source_id = api.submit()
    source = wait_until_final(source_id, timeout=40)

    assert_completed_like_a_clean_run(source_id)
    assert source.resume_attempts == 1
    assert jobs(source_id, "RESUME_SOURCE", JobRecord.State.SUCCESS).count() == 1
    # One execution was killed; every visual then succeeded once.
    visual_jobs = jobs(source_id, "GENERATE_VISUAL")
    assert visual_jobs.exclude(state=JobRecord.State.SUCCESS).count() == 1
    for visual in Visual.objects.filter(source_id=source_id):
        assert visual_jobs.filter(item_id=visual.pk, state=JobRecord.State.SUCCESS).count() == 1


def test_a_step_killed_by_the_hard_time_limit_every_time_is_failed_by_the_watchdog_with_a_message(limited):
    """A hard time limit ends a plain chain step without any callback: the
    watchdog (celery beat) resumes it, and gives up after PIPELINE_MAX_ATTEMPTS.
    The step has entered its stage when it hangs."""
    limited.env.update({"PIPELINE_STUCK_AFTER": "2", "PIPELINE_MAX_ATTEMPTS": "1"})
    limited.worker(
        "w1", AI_PROVIDERS="tests.fault_providers.FaultAI", FAULT_CALLS="lesson_structure", FAULT_MODE="hang"
    )
    limited.beat()
    api = limited.web().register()

    source = wait_until_final(api.submit(), timeout=40)

    assert source.processing_status == Source.Status.FAILED
    # A TEXT source has no extraction: it failed in its first stage.
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert "stopped making progress in stage ANALYZING_TEXT" in source.error_message
    assert "given up after 1 resume attempt" in source.error_message
    assert source.resume_attempts == 1
    assert not jobs(source.pk, "PROCESS_SOURCE_TEXT", JobRecord.State.SUCCESS).exists()
    assert not Note.objects.filter(source=source).exists()
