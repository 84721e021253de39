"""Load: 50 sources with 5 visuals each, submitted at once through the API
to two worker processes. Everything completes on the primary path (no
watchdog runs, no source is resumed), nothing is duplicated, and the job
records agree with the data."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.models import Count

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline.models import JobRecord

from ..conftest import wait_for
from ..fakes import ok
from .conftest import CLEAN_CARDS, CLEAN_QUIZ, FINAL, LECTURE

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SOURCES = 50
VISUALS = 5
# Five distinct placeholders, one of them twice: still five visuals.
FIVE_VISUALS = {
    "title": "A lesson with five pictures",
    "structure": [
        {"heading": f"Part {n}", "content": f"Part {n} of the lesson.\n\n[VISUAL::Figure {n} of the lesson]"}
        for n in range(1, VISUALS + 1)
    ]
    + [{"heading": "Recap", "content": "Once more:\n\n[VISUAL::Figure 1 of the lesson]"}],
    "visualOpportunities": [
        {"description": f"Figure {n} of the lesson", "searchQuery": f"lesson figure {n}"}
        for n in range(1, VISUALS + 1)
    ],
}


def test_fifty_sources_with_five_visuals_on_two_workers_all_complete_without_duplicates(stack, openai_fake):
    openai_fake.set_default("lesson_structure", ok(FIVE_VISUALS))
    stack.env["IMAGE_PROVIDER"] = "offline"
    stack.worker("w1")
    stack.worker("w2")
    api = stack.web().register()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(lambda n: api.submit(LECTURE, f"Load {n}"), range(SOURCES)))
    assert len(set(ids)) == SOURCES
    sources = Source.objects.filter(pk__in=ids)
    wait_for(
        lambda: sources.filter(processing_status__in=FINAL).count() == SOURCES,
        timeout=180,
        interval=0.5,
        message="all sources to finish",
    )
    print(f"{SOURCES} sources in {time.monotonic() - started:.1f} s")

    # Every source completed on the primary path.
    assert sources.filter(processing_status=Source.Status.COMPLETED, processing_stage=None).count() == SOURCES
    assert sources.filter(resume_attempts=0).count() == SOURCES
    # No duplicates: one note per source, one visual per distinct placeholder,
    # the quiz and flashcards of a clean run.
    assert Note.objects.filter(source__in=ids).count() == SOURCES
    per_source = Visual.objects.filter(source__in=ids).values("source").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_source) == [VISUALS] * SOURCES
    visuals = Visual.objects.filter(source__in=ids)
    assert visuals.filter(status=Visual.Status.COMPLETED).count() == SOURCES * VISUALS
    assert visuals.values("source", "placeholder_id").distinct().count() == SOURCES * VISUALS
    assert QuizQuestion.objects.filter(note__source__in=ids).count() == SOURCES * CLEAN_QUIZ
    assert Flashcard.objects.filter(note__source__in=ids).count() == SOURCES * CLEAN_CARDS
    for note in Note.objects.filter(source__in=ids).only("markdown_content", "html_content"):
        assert "[VISUAL::" not in note.markdown_content
        assert note.html_content.count("<img") == VISUALS + 1  # the repeated one twice

    # The job records agree: every execution finished, none failed; each step
    # succeeded once per source, each visual at least once.
    records = JobRecord.objects.filter(source__in=ids)
    # The last job records close (task_postrun) a moment after their source.
    wait_for(lambda: not records.filter(state=JobRecord.State.STARTED).exists(), timeout=30)
    assert not records.filter(state=JobRecord.State.STARTED).exists()
    assert not records.filter(state=JobRecord.State.FAILURE).exists()
    for job_type in (
        "PROCESS_SOURCE_TEXT",
        "PROCESS_VISUAL_PLACEHOLDERS",
        "ASSEMBLE_NOTE",
        "GENERATE_STUDY_TOOLS",
    ):
        successes = (
            records.filter(job_type=job_type, state=JobRecord.State.SUCCESS)
            .values("source")
            .annotate(n=Count("id"))
        )
        assert sorted(row["n"] for row in successes) == [1] * SOURCES, job_type
    succeeded_visuals = set(
        records.filter(job_type="GENERATE_VISUAL", state=JobRecord.State.SUCCESS).values_list(
            "item_id", flat=True
        )
    )
    assert succeeded_visuals == set(visuals.values_list("pk", flat=True))
    assert not records.filter(job_type__in=["RESUME_SOURCE", "EXTRACT_SOURCE_TEXT"]).exists()
