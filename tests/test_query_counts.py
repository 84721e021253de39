"""Database queries per pipeline step: a constant number, whatever the number
of visuals (no N+1), and within a budget.

Each step runs for a source whose lesson structure has 1, 5 or 20 visuals;
the queries of every step must be the same for all three. The budgets are the
counts under the test transaction (its savepoints included); the benchmark
(bench/, docs/benchmarks.md) reports the same counts from real workers.
"""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notes.models import Source
from pipeline import jobs, services
from pipeline.models import JobRecord

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("offline", "fake_ai")]


@pytest.fixture(autouse=True)
def no_visual_cap(settings):
    settings.MAX_VISUALS_PER_SOURCE = max(VISUAL_COUNTS)


VISUAL_COUNTS = (1, 5, 20)

# Queries of each step (service function), test transaction included.
BUDGETS = {
    "source_analyze_text": 2,
    "source_create_visuals": 4,
    "visual_generate": 3,
    "note_assemble": 8,
    "study_tools_generate": 13,
}
# A task's job record: one look-up of earlier executions (attempt, retries,
# losses of the step) and the insert at the start (in a savepoint here), the
# update at the end.
JOB_RECORD_BUDGET = 5


def count_queries(step, **kwargs) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = step(**kwargs)
    return len(queries), result


def queries_per_step(user, fake_ai, visuals: int) -> dict[str, int]:
    fake_ai.visuals = visuals
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="A lecture about cells.")
    counts = {}
    counts["source_analyze_text"], _ = count_queries(services.source_analyze_text, source_id=source.pk)
    counts["source_create_visuals"], visual_ids = count_queries(
        services.source_create_visuals, source_id=source.pk
    )
    assert len(visual_ids) == visuals
    per_visual = {
        count_queries(services.visual_generate, source_id=source.pk, item_id=v)[0] for v in visual_ids
    }
    assert len(per_visual) == 1, f"visual_generate queries vary between visuals: {per_visual}"
    counts["visual_generate"] = per_visual.pop()
    counts["note_assemble"], note_id = count_queries(services.note_assemble, source_id=source.pk)
    assert note_id is not None
    counts["study_tools_generate"], _ = count_queries(services.study_tools_generate, source_id=source.pk)
    source.refresh_from_db()
    assert source.note.quiz_questions.count() == 6
    assert source.note.flashcards.count() == 10
    assert source.visuals.filter(status="COMPLETED").count() == visuals
    return counts


def test_every_step_makes_the_same_queries_whatever_the_number_of_visuals(user, fake_ai):
    counts = {visuals: queries_per_step(user, fake_ai, visuals) for visuals in VISUAL_COUNTS}

    assert counts[1] == counts[5] == counts[20], counts


@pytest.mark.parametrize("visuals", VISUAL_COUNTS)
@pytest.mark.parametrize("step", list(BUDGETS))
def test_each_step_stays_within_its_query_budget(user, fake_ai, django_assert_max_num_queries, step, visuals):
    fake_ai.visuals = visuals
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="A lecture about cells.")
    order = list(BUDGETS)
    for earlier in order[: order.index(step)]:
        if earlier == "visual_generate":
            for visual in source.visuals.all():
                services.visual_generate(source_id=source.pk, item_id=visual.pk)
        else:
            getattr(services, earlier)(source_id=source.pk)

    if step == "visual_generate":
        visual_id = source.visuals.first().pk
        with django_assert_max_num_queries(BUDGETS[step]):
            services.visual_generate(source_id=source.pk, item_id=visual_id)
    else:
        with django_assert_max_num_queries(BUDGETS[step]):
            getattr(services, step)(source_id=source.pk)


def test_a_second_run_of_the_study_tools_stays_within_its_budget(
    user, fake_ai, django_assert_max_num_queries
):
    # The replace-not-append path (tools already there) costs no more.
    queries_per_step(user, fake_ai, 5)
    source = Source.objects.latest("pk")
    source.note.flashcards.all().delete()

    with django_assert_max_num_queries(BUDGETS["study_tools_generate"]):
        services.study_tools_generate(source_id=source.pk)

    assert source.note.flashcards.count() == 10
    assert source.note.quiz_questions.count() == 6


def test_a_tasks_job_record_costs_a_constant_number_of_queries(user, django_assert_max_num_queries):
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="text")

    for attempt in (1, 2, 3):
        with django_assert_max_num_queries(JOB_RECORD_BUDGET):
            job = jobs.job_start(
                task_id="task-1", job_type="GENERATE_VISUAL", source_id=source.pk, item_id=7, worker="host:1"
            )
            assert job.lost == 0
            jobs.job_finish(job, state=JobRecord.State.RETRY if attempt < 3 else JobRecord.State.SUCCESS)
        record = JobRecord.objects.filter(task_id="task-1").order_by("-pk").first()
        assert record.attempt == attempt
        assert job.retries == attempt - 1
        assert record.finished_at is not None
    assert record.state == JobRecord.State.SUCCESS


def test_lost_executions_are_still_counted(user):
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="text")
    jobs.job_start(
        task_id="task-2", job_type="PROCESS_SOURCE_TEXT", source_id=source.pk, item_id=None, worker="h:1"
    )
    # The worker died: that record stays STARTED. The same message comes back.

    job = jobs.job_start(
        task_id="task-2", job_type="PROCESS_SOURCE_TEXT", source_id=source.pk, item_id=None, worker="h:2"
    )

    assert job.lost == 1
    assert job.attempt == 2


def test_a_network_provider_gets_quiz_and_flashcards_requests_at_once(
    user, fake_ai, django_assert_max_num_queries
):
    # With a network provider the two calls overlap (a helper thread): the quiz
    # call here only answers once the flashcards call has started, which two
    # calls made in turn would never do. Same queries as with calls in turn.
    queries_per_step(user, fake_ai, 2)
    source = Source.objects.latest("pk")
    source.note.quiz_questions.all().delete()
    source.note.flashcards.all().delete()
    Source.objects.filter(pk=source.pk).update(prompt_tokens=0)
    flashcards_started = threading.Event()

    def before_answer(made) -> None:
        if made.call == "flashcards":
            flashcards_started.set()
        else:
            assert flashcards_started.wait(timeout=10), "the flashcards were not asked for meanwhile"

    fake_ai.before_answer = before_answer
    fake_ai.calls = []
    with django_assert_max_num_queries(BUDGETS["study_tools_generate"]):
        services.study_tools_generate(source_id=source.pk)

    source.refresh_from_db()
    assert len({made.thread for made in fake_ai.calls}) == 2
    assert source.prompt_tokens == 20  # both calls' usage
    assert source.note.quiz_questions.count() == 6
    assert source.note.flashcards.count() == 10
