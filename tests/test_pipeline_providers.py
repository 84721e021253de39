"""The pipeline's failure paths, on a real worker, with the real OpenAI and
SerpAPI clients talking to fake servers on 127.0.0.1."""

from pathlib import Path

import pytest
from django.test import override_settings

from notes.models import Note, Source, Visual

from .fakes import FakeOpenAI, FakeSerpAPI, error, ok
from .pipeline_helpers import submit, wait_until_final

LECTURE = (Path(__file__).resolve().parent.parent / "samples" / "lecture.md").read_text()
FAKE_KEY = "sk-test-studynaut-0123456789abcdef"


@pytest.fixture
def openai_fake():
    with (
        FakeOpenAI() as fake,
        override_settings(
            OPENAI_API_KEY=FAKE_KEY,
            OPENAI_BASE_URL=fake.base_url,
            AI_PROVIDERS=["openai"],
            IMAGE_PROVIDER="offline",
        ),
    ):
        yield fake


@pytest.fixture
def serpapi_fake():
    with (
        FakeSerpAPI() as fake,
        override_settings(SERPAPI_API_KEY=FAKE_KEY, SERPAPI_BASE_URL=fake.base_url, IMAGE_PROVIDER="serpapi"),
    ):
        yield fake


def test_an_ai_failure_fails_the_source_in_analyzing_text(celery_worker, user, openai_fake):
    openai_fake.fail_always("lesson_structure", 500)

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert "openai" in source.error_message.lower()
    assert "500" in source.error_message or "server" in source.error_message.lower()
    assert FAKE_KEY not in source.error_message
    assert "Traceback" not in source.error_message
    assert not Note.objects.filter(source=source).exists()


@override_settings(AI_PROVIDERS=["openai", "local"])
def test_an_ai_failure_falls_back_to_the_local_provider(celery_worker, user, openai_fake):
    openai_fake.fail_always("*", 500)

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.ai_provider == "local"
    assert source.note.quiz_questions.count() >= 5


def test_every_image_failing_still_gives_a_completed_note_with_fallbacks(
    celery_worker, user, openai_fake, serpapi_fake
):
    serpapi_fake.fail_always("images", 500)

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    visuals = list(source.visuals.all())
    assert len(visuals) == 2  # the fake lesson structure has two placeholders
    for visual in visuals:
        assert visual.status == Visual.Status.FAILED
        assert visual.error_message
        assert FAKE_KEY not in visual.error_message
        assert f"Illustration unavailable: {visual.description}" in source.note.markdown_content
    assert "<img" not in source.note.html_content
    assert "[VISUAL::" not in source.note.markdown_content


def test_images_from_serpapi_reach_the_note(celery_worker, user, openai_fake, serpapi_fake):
    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    for visual in source.visuals.all():
        assert visual.status == Visual.Status.COMPLETED
        assert visual.image_url.startswith("https://")
        assert visual.image_url in source.note.html_content
    queries = [request.query for request in serpapi_fake.requests]
    assert queries
    assert all(query["engine"] == "google_images" for query in queries)


def test_a_study_tools_failure_completes_with_errors_and_keeps_the_note(celery_worker, user, openai_fake):
    openai_fake.fail_always("quiz", 500)

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED_WITH_ERRORS
    assert source.processing_stage is None
    assert "Quiz and flashcards could not be generated" in source.error_message
    note = Note.objects.get(source=source)
    assert note.markdown_content.startswith("# ")
    assert not note.quiz_questions.exists()


def test_zero_placeholders_go_straight_to_the_note(celery_worker, user, openai_fake):
    openai_fake.set_default(
        "lesson_structure",
        ok(
            {
                "title": "Plain lesson",
                "structure": [{"heading": "Only words", "content": "Nothing to illustrate here."}],
                "visualOpportunities": [],
            }
        ),
    )

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert not source.visuals.exists()
    assert "Nothing to illustrate here." in source.note.markdown_content
    assert source.note.quiz_questions.exists()


def test_retried_transient_ai_errors_do_not_fail_the_source(celery_worker, user, openai_fake):
    openai_fake.script("lesson_structure", [error(429, retry_after=0), error(503)])

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert openai_fake.count("lesson_structure") == 3
    assert source.prompt_tokens > 0
    assert source.completion_tokens > 0
