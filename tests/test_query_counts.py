"""Database queries per pipeline step: a constant number, whatever the number
of visuals (no N+1), and within a budget.

Each step runs for a source whose lesson structure has 1, 5 or 20 visuals;
the queries of every step must be the same for all three. The budgets are the
counts under the test transaction (its savepoints included); the benchmark
(bench/, docs/benchmarks.md) reports the same counts from real workers.
"""

import threading
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notes.models import Source
from pipeline import services, signals
from pipeline.models import JobRecord
from pipeline.providers import registry
from pipeline.providers.base import Completion
from pipeline.providers.schemas import SCHEMAS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("offline")]

VISUAL_COUNTS = (1, 5, 20)

# Queries of each step (service function), test transaction included.
BUDGETS = {
    "source_analyze_text": 3,
    "source_create_visuals": 5,
    "visual_generate": 4,
    "note_assemble": 8,
    "study_tools_generate": 11,
}
# A task's job record: look-up of earlier executions and insert at the start
# (in a savepoint here), the poison check served from that look-up, the
# update at the end.
JOB_RECORD_BUDGET = 5


def structure(visuals: int) -> dict:
    return {
        "title": f"A lesson with {visuals} pictures",
        "structure": [
            {
                "heading": f"Part {number}",
                "content": f"Some text about part {number}.\n\n[VISUAL::Picture number {number}]",
            }
            for number in range(visuals)
        ],
        "visualOpportunities": [
            {"description": f"Picture number {number}", "searchQuery": f"picture {number}"}
            for number in range(visuals)
        ],
    }


QUIZ = {
    "questions": [
        {"question": f"Question {n}?", "options": ["yes", "no", "maybe"], "answerIndex": 0, "explanation": ""}
        for n in range(6)
    ]
}
CARDS = {"flashcards": [{"front": f"Term {n}", "back": f"Definition {n}"} for n in range(10)]}


@pytest.fixture
def fake_ai(monkeypatch):
    """The AI answers at once with a structure of `fake_ai.visuals` placeholders."""
    state = SimpleNamespace(visuals=1)

    def ai_complete(call, text, **_):
        data = {"lesson_structure": structure(state.visuals), "quiz": QUIZ, "flashcards": CARDS}[call]
        completion = Completion(data=data, prompt_tokens=10, completion_tokens=5)
        return SCHEMAS[call].model_validate(data), completion, "fake"

    monkeypatch.setattr(registry, "ai_complete", ai_complete)
    return state


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
    per_visual = {count_queries(services.visual_generate, visual_id=v)[0] for v in visual_ids}
    assert len(per_visual) == 1, f"visual_generate queries vary between visuals: {per_visual}"
    counts["visual_generate"] = per_visual.pop()
    counts["note_assemble"], note_id = count_queries(services.note_assemble, source_id=source.pk)
    assert note_id is not None
    counts["study_tools_generate"], _ = count_queries(services.study_tools_generate, source_id=source.pk)
    source.refresh_from_db()
    assert source.processing_status == Source.Status.COMPLETED
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
                services.visual_generate(visual_id=visual.pk)
        else:
            getattr(services, earlier)(source_id=source.pk)

    if step == "visual_generate":
        visual_id = source.visuals.first().pk
        with django_assert_max_num_queries(BUDGETS[step]):
            services.visual_generate(visual_id=visual_id)
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
    Source.objects.filter(pk=source.pk).update(processing_status=Source.Status.PROCESSING)

    with django_assert_max_num_queries(BUDGETS["study_tools_generate"]):
        services.study_tools_generate(source_id=source.pk)

    assert source.note.flashcards.count() == 10
    assert source.note.quiz_questions.count() == 6


def test_a_tasks_job_record_costs_a_constant_number_of_queries(user, django_assert_max_num_queries):
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="text")
    task = SimpleNamespace(name="pipeline.generate_visual")

    for attempt in (1, 2, 3):
        with django_assert_max_num_queries(JOB_RECORD_BUDGET):
            signals.job_started(task_id="task-1", task=task, kwargs={"source_id": source.pk, "visual_id": 7})
            assert signals.executions_lost("task-1") == 0
            signals.job_finished(task_id="task-1", state="SUCCESS")
        record = JobRecord.objects.filter(task_id="task-1").order_by("-pk").first()
        assert record.attempt == attempt
        assert record.state == JobRecord.State.SUCCESS
        assert record.finished_at is not None


def test_lost_executions_are_still_counted(user):
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text="text")
    task = SimpleNamespace(name="pipeline.process_source_text")
    signals.job_started(task_id="task-2", task=task, kwargs={"source_id": source.pk})
    signals._running.jobs.clear()  # the worker died: the record stays STARTED

    signals.job_started(task_id="task-2", task=task, kwargs={"source_id": source.pk})

    assert signals.executions_lost("task-2") == 1
    assert JobRecord.objects.filter(task_id="task-2").order_by("-pk").first().attempt == 2
    signals.job_finished(task_id="task-2", state="SUCCESS")


def test_a_network_provider_gets_quiz_and_flashcards_requests_at_once(
    user, fake_ai, settings, monkeypatch, django_assert_max_num_queries
):
    # With a network provider the two calls overlap (a helper thread): the quiz
    # call here only answers once the flashcards call has started, which two
    # calls made in turn would never do. Same queries as with calls in turn.
    settings.AI_PROVIDERS = ["openai", "local"]
    queries_per_step(user, fake_ai, 2)
    source = Source.objects.latest("pk")
    source.note.quiz_questions.all().delete()
    Source.objects.filter(pk=source.pk).update(processing_status=Source.Status.PROCESSING, prompt_tokens=0)
    answer = registry.ai_complete
    flashcards_started = threading.Event()
    threads = set()

    def ai_complete(call, text, **kwargs):
        threads.add((call, threading.get_ident()))
        if call == "flashcards":
            flashcards_started.set()
        else:
            assert flashcards_started.wait(timeout=10), "the flashcards were not asked for meanwhile"
        return answer(call, text, **kwargs)

    monkeypatch.setattr(registry, "ai_complete", ai_complete)
    with django_assert_max_num_queries(BUDGETS["study_tools_generate"]):
        services.study_tools_generate(source_id=source.pk)

    source.refresh_from_db()
    assert source.processing_status == Source.Status.COMPLETED
    assert len({ident for _, ident in threads}) == 2
    assert source.prompt_tokens == 20  # both calls' usage, recorded once they are both in
    assert source.note.quiz_questions.count() == 6
