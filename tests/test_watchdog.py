"""The watchdog resumes sources stuck in any stage, from where they stand, and
gives up after PIPELINE_MAX_ATTEMPTS."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from notes.models import Note, Source, Visual
from pipeline import lifecycle, services, tasks
from pipeline.models import JobRecord

from .pipeline_helpers import wait_until_final

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(autouse=True)
def two_attempts(settings):
    settings.PIPELINE_MAX_ATTEMPTS = 2


LECTURE = (Path(__file__).resolve().parent.parent / "samples" / "lecture.md").read_text()


def make_stuck(source: Source) -> None:
    """As if the message that should have moved it on was lost long ago."""
    long_ago = timezone.now() - timedelta(hours=2)
    Source.objects.filter(pk=source.pk).update(progress_at=long_ago)


@pytest.fixture
def source(user):
    return Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text=LECTURE)


def stop_in(source: Source, stage: str) -> None:
    """Run the steps before `stage` by hand, then leave the source there."""
    if stage == "PENDING":
        return
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    if stage == Source.Stage.GENERATING_VISUALS:
        lifecycle.enter_stage(source_id=source.pk, stage=stage)
        # One visual finished, one claimed by a worker that died.
        services.visual_generate(source_id=source.pk, item_id=visual_ids[0])
        Visual.objects.filter(pk__in=visual_ids[1:]).update(status=Visual.Status.PROCESSING)
        return
    for visual_id in visual_ids:
        services.visual_generate(source_id=source.pk, item_id=visual_id)
    if stage == Source.Stage.ASSEMBLING_NOTE:
        lifecycle.enter_stage(source_id=source.pk, stage=stage)
        return
    services.note_assemble(source_id=source.pk)
    assert stage == Source.Stage.PENDING_STUDY_TOOLS
    lifecycle.enter_stage(source_id=source.pk, stage=stage)


@pytest.mark.parametrize(
    "stage",
    [
        "PENDING",
        Source.Stage.GENERATING_VISUALS,
        Source.Stage.ASSEMBLING_NOTE,
        Source.Stage.PENDING_STUDY_TOOLS,
    ],
)
def test_the_watchdog_resumes_a_stuck_source_to_completion(celery_worker, source, stage):
    stop_in(source, stage)
    make_stuck(source)

    tasks.watchdog.delay()
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.resume_attempts == 1
    assert Note.objects.filter(source=source).count() == 1
    assert not source.visuals.exclude(status=Visual.Status.COMPLETED).exists()
    assert source.note.quiz_questions.exists()
    assert JobRecord.objects.filter(source=source, job_type="RESUME_SOURCE").count() == 1


def test_a_source_that_is_still_moving_is_left_alone(celery_worker, source):
    stop_in(source, Source.Stage.ASSEMBLING_NOTE)

    assert tasks.watchdog.delay().get(timeout=30) == 0

    source.refresh_from_db()
    assert source.processing_stage == Source.Stage.ASSEMBLING_NOTE
    assert source.resume_attempts == 0


def test_the_watchdog_gives_up_after_the_configured_attempts(celery_worker, source):
    stop_in(source, Source.Stage.ASSEMBLING_NOTE)
    Source.objects.filter(pk=source.pk).update(resume_attempts=2)
    make_stuck(source)

    tasks.watchdog.delay()
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ASSEMBLING_NOTE
    assert "given up after 2 resume attempt" in source.error_message
    assert not Note.objects.filter(source=source).exists()
