"""Task-level guarantees on a real worker: poison messages stop, an early
chord join waits, the shared rate limit reschedules instead of failing."""

from pathlib import Path

import pytest
from celery import chain
from django.utils import timezone

from notes.models import Source, Visual
from pipeline import lifecycle, services
from pipeline.models import JobRecord
from pipeline.tasks import STEP_TASKS

from .conftest import wait_for
from .fakes import FakeOpenAI, FakeSerpAPI
from .pipeline_helpers import submit, wait_until_final

LECTURE = (Path(__file__).resolve().parent.parent / "samples" / "lecture.md").read_text()

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def source(user):
    return Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text=LECTURE)


def record_lost_executions(
    task_id: str,
    job_type: str,
    source: Source,
    count: int,
    *,
    state: str = JobRecord.State.STARTED,
    item_id=None,
) -> None:
    for _ in range(count):
        JobRecord.objects.create(
            task_id=task_id,
            job_type=job_type,
            source=source,
            item_id=item_id,
            state=state,
            started_at=timezone.now(),
        )


def test_a_step_whose_worker_died_too_often_fails_the_source(celery_worker, source, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    record_lost_executions("poison-1", "PROCESS_SOURCE_TEXT", source, 2)

    STEP_TASKS["PROCESS_SOURCE_TEXT"].apply_async(kwargs={"source_id": source.pk}, task_id="poison-1")
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert "lost 2 times" in source.error_message
    assert source.lesson_structure_json is None  # the step itself never ran


def test_losses_of_a_step_count_across_resumes_that_gave_it_new_task_ids(celery_worker, source, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 3
    record_lost_executions("first-run", "PROCESS_SOURCE_TEXT", source, 1, state=JobRecord.State.LOST)
    record_lost_executions("resumed-run", "PROCESS_SOURCE_TEXT", source, 2, state=JobRecord.State.LOST)

    STEP_TASKS["PROCESS_SOURCE_TEXT"].apply_async(kwargs={"source_id": source.pk}, task_id="third-run")
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.FAILED
    assert "lost 3 times" in source.error_message


def test_losses_of_another_step_or_item_do_not_count(celery_worker, source, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 1
    record_lost_executions("other-step", "EXTRACT_SOURCE_TEXT", source, 1, state=JobRecord.State.LOST)
    record_lost_executions(
        "other-item", "GENERATE_VISUAL", source, 1, state=JobRecord.State.LOST, item_id=999
    )

    STEP_TASKS["PROCESS_SOURCE_TEXT"].apply_async(kwargs={"source_id": source.pk}, task_id="fresh")

    wait_for(lambda: Source.objects.get(pk=source.pk).lesson_structure_json, message="the structure")


def test_a_step_lost_fewer_times_than_allowed_runs(celery_worker, source, settings):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    record_lost_executions("survivor-1", "PROCESS_SOURCE_TEXT", source, 1)

    STEP_TASKS["PROCESS_SOURCE_TEXT"].apply_async(kwargs={"source_id": source.pk}, task_id="survivor-1")

    wait_for(lambda: Source.objects.get(pk=source.pk).lesson_structure_json, message="the structure")
    assert JobRecord.objects.filter(task_id="survivor-1").order_by("attempt").last().attempt == 2


def test_a_visual_whose_worker_died_too_often_is_failed_without_failing_the_task(
    celery_worker, source, settings
):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    services.source_analyze_text(source_id=source.pk)
    visual_id = services.source_create_visuals(source_id=source.pk)[0]
    record_lost_executions("poison-2", "GENERATE_VISUAL", source, 2)

    result = STEP_TASKS["GENERATE_VISUAL"].apply_async(
        kwargs={"source_id": source.pk, "item_id": visual_id}, task_id="poison-2"
    )

    assert result.get(timeout=30) == visual_id  # a normal return: the chord goes on
    visual = Visual.objects.get(pk=visual_id)
    assert visual.status == Visual.Status.FAILED
    assert "lost 2 times" in visual.error_message


def test_an_early_join_waits_for_the_visuals_and_keeps_the_rest_of_the_chain(celery_worker, source, settings):
    settings.TASK_RETRY_DELAY_MAX = 1
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)

    # ASSEMBLE_NOTE fired while the visuals are still pending, as a
    # redelivered header task could make it.
    lifecycle.enter_stage(source_id=source.pk, stage=Source.Stage.GENERATING_VISUALS)
    chain(
        STEP_TASKS["ASSEMBLE_NOTE"].si(source_id=source.pk),
        STEP_TASKS["GENERATE_STUDY_TOOLS"].si(source_id=source.pk),
    ).delay()
    wait_for(
        lambda: JobRecord.objects.filter(job_type="ASSEMBLE_NOTE", state="RETRY").exists(),
        message="ASSEMBLE_NOTE to wait",
    )
    assert not hasattr(Source.objects.get(pk=source.pk), "note")
    for visual_id in visual_ids:
        services.visual_generate(source_id=source.pk, item_id=visual_id)
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.note.quiz_questions.exists()
    assert "Illustration unavailable" not in source.note.markdown_content


def test_the_shared_rate_limit_reschedules_image_searches_instead_of_failing_them(
    celery_worker, user, settings
):
    settings.TASK_RETRY_DELAY_MAX = 2
    settings.RATE_LIMIT_MAX_WAIT = 0.1
    settings.SERPAPI_RPM = 12  # one request every 5 s, burst 1
    with FakeOpenAI() as openai, FakeSerpAPI() as serpapi:
        settings.AI_PROVIDERS = ["openai"]
        settings.OPENAI_API_KEY = "sk-test"
        settings.OPENAI_BASE_URL = openai.base_url
        settings.IMAGE_PROVIDER = "serpapi"
        settings.SERPAPI_API_KEY = "serp-test"
        settings.SERPAPI_BASE_URL = serpapi.base_url

        source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert list(source.visuals.values_list("status", flat=True)) == [Visual.Status.COMPLETED] * 2
    visual_jobs = JobRecord.objects.filter(source=source, job_type="GENERATE_VISUAL")
    assert visual_jobs.filter(state=JobRecord.State.WAITING).exists()
    assert not visual_jobs.filter(state__in=[JobRecord.State.RETRY, JobRecord.State.FAILURE]).exists()
    times = sorted(request.time for request in serpapi.requests)
    assert len(times) == 2
    assert times[1] - times[0] >= 4.5
