"""Workers prove they are alive in the shared Redis (pipeline/liveness.py),
and the recovery check (pipeline/recovery.py) starts again the steps of the
ones that stopped."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notes.models import Source, Visual
from pipeline import liveness, recovery
from pipeline.models import JobRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def beating(redis_db, settings):
    settings.WORKER_LOST_AFTER = 30
    liveness.ensure_beating()
    yield liveness.worker_identity()
    liveness.stop_beating()


def test_a_process_proves_it_is_alive_with_a_key_that_expires(beating, redis_db, settings):
    key = f"{settings.REDIS_KEY_PREFIX}alive:{beating}"

    assert redis_db.exists(key)
    assert 0 < redis_db.pttl(key) <= 30_000
    assert liveness.alive({beating, "elsewhere:1"}) == {beating}
    assert liveness.alive_count() >= 1


def test_a_process_that_stops_is_not_alive_any_more(beating, redis_db):
    liveness.stop_beating()

    assert liveness.alive({beating}) == set()


def test_without_a_shared_redis_every_process_counts_as_alive(settings):
    settings.SHARED_REDIS_URL = ""

    assert liveness.alive({"a:1", "b:2"}) == {"a:1", "b:2"}
    assert liveness.alive_count() is None


def started_long_ago(source: Source, job_type: str, *, worker: str, item_id=None) -> JobRecord:
    return JobRecord.objects.create(
        task_id=f"{job_type}-{worker}",
        job_type=job_type,
        source=source,
        item_id=item_id,
        worker=worker,
        started_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def visuals_source(user):
    source = Source.objects.create(
        owner=user,
        kind=Source.Kind.TEXT,
        input_text="Cells divide.",
        processing_status=Source.Status.PROCESSING,
        processing_stage=Source.Stage.GENERATING_VISUALS,
    )
    for position in range(2):
        Visual.objects.create(
            source=source, placeholder_id=f"p{position}", position=position, description=f"Picture {position}"
        )
    return source


def test_the_step_of_a_lost_worker_is_marked_lost_its_item_freed_and_its_source_resumed(
    visuals_source, redis_db, django_capture_on_commit_callbacks
):
    visual = visuals_source.visuals.first()
    Visual.objects.filter(pk=visual.pk).update(status=Visual.Status.PROCESSING)
    lost = started_long_ago(visuals_source, "GENERATE_VISUAL", worker="gone:1", item_id=visual.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        assert recovery.recover_lost_work() == 1

    assert JobRecord.objects.get(pk=lost.pk).state == JobRecord.State.LOST
    assert Visual.objects.get(pk=visual.pk).status == Visual.Status.PENDING
    assert len(callbacks) == 1  # the pipeline sent again, from GENERATING_VISUALS
    source = Source.objects.get(pk=visuals_source.pk)
    assert source.resume_attempts == 0  # a lost worker is not a stuck source


def test_a_living_workers_step_is_left_alone(visuals_source, beating, django_capture_on_commit_callbacks):
    running = started_long_ago(visuals_source, "GENERATE_VISUAL", worker=beating)

    with django_capture_on_commit_callbacks() as callbacks:
        assert recovery.recover_lost_work() == 0

    assert JobRecord.objects.get(pk=running.pk).state == JobRecord.State.STARTED
    assert callbacks == []


def test_a_step_that_just_started_is_given_time_to_prove_itself(visuals_source, redis_db):
    young = JobRecord.objects.create(
        task_id="young",
        job_type="ASSEMBLE_NOTE",
        source=visuals_source,
        worker="gone:2",
        started_at=timezone.now(),
    )

    assert recovery.recover_lost_work() == 0
    assert JobRecord.objects.get(pk=young.pk).state == JobRecord.State.STARTED


def test_two_lost_steps_of_one_source_resume_it_once(
    visuals_source, redis_db, django_capture_on_commit_callbacks
):
    first, second = visuals_source.visuals.all()[:2]
    started_long_ago(visuals_source, "GENERATE_VISUAL", worker="gone:3", item_id=first.pk)
    started_long_ago(visuals_source, "GENERATE_VISUAL", worker="gone:4", item_id=second.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        assert recovery.recover_lost_work() == 1

    assert len(callbacks) == 1
    assert JobRecord.objects.filter(source=visuals_source, state=JobRecord.State.LOST).count() == 2
