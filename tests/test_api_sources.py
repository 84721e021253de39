"""POST/GET/DELETE /api/sources/ and /api/sources/{id}/retry/."""

import json
import logging

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.throttling import SimpleRateThrottle

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline import steps
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import PDF_BYTES, client_for, make_note, make_source

pytestmark = pytest.mark.django_db

SOURCES = "/api/sources/"
Status = Source.Status
Stage = Source.Stage
VideoID = "dQw4w9WgXcQ"


def detail_url(source) -> str:
    return f"/api/sources/{source.pk}/"


def retry_url(source) -> str:
    return f"/api/sources/{source.pk}/retry/"


# --- Create: TEXT ------------------------------------------------------------------


def test_a_text_source_is_accepted_with_its_detail(api, user):
    response = api.post(SOURCES, {"kind": "TEXT", "text": "Plants turn light into sugar.", "title": "Leaves"})

    assert response.status_code == 202
    body = response.json()
    source = Source.objects.get(pk=body["id"])
    assert source.owner == user
    assert source.input_text == "Plants turn light into sugar."
    assert body["kind"] == "TEXT"
    assert body["title"] == "Leaves"
    assert body["processing_status"] == "PENDING"
    assert body["processing_stage"] is None
    assert body["progress"] == {"visuals_total": 0, "visuals_done": 0, "chunks_total": 0, "chunks_done": 0}
    assert body["note"] is None
    assert body["visuals"] == []
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert body["error_message"] == ""
    assert {"created_at", "updated_at"} <= body.keys()


def test_the_title_is_optional(api):
    response = api.post(SOURCES, {"kind": "TEXT", "text": "Some text."})

    assert response.status_code == 202
    assert response.json()["title"] == ""


def test_the_pipeline_is_enqueued_only_when_the_transaction_commits(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(SOURCES, {"kind": "TEXT", "text": "Plants turn light into sugar."})

    assert response.status_code == 202
    assert len(callbacks) == 1


def test_the_committed_source_sends_its_first_task_to_the_broker(api, django_capture_on_commit_callbacks):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = steps.PROCESS_SOURCE_TEXT.queue
    before = broker.llen(queue)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(SOURCES, {"kind": "TEXT", "text": "Plants turn light into sugar."})

    assert response.status_code == 202
    assert broker.llen(queue) == before + 1
    message = json.loads(broker.lpop(queue))  # nothing consumes it in this suite: tidy up
    assert message["headers"]["task"] == "pipeline.process_source_text"
    assert f"'source_id': {response.json()['id']}" in message["headers"]["kwargsrepr"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_empty_or_blank_text_is_400_and_creates_nothing(api, text):
    response = api.post(SOURCES, {"kind": "TEXT", "text": text})

    assert response.status_code == 400
    assert "text" in response.json()
    assert not Source.objects.exists()


def test_missing_text_is_400(api):
    response = api.post(SOURCES, {"kind": "TEXT"})

    assert response.status_code == 400
    assert response.json() == {"text": ["This field is required."]}


def test_text_over_the_limit_is_400_with_a_message(api, settings):
    settings.MAX_TEXT_CHARS = 100

    response = api.post(SOURCES, {"kind": "TEXT", "text": "a" * 101})

    assert response.status_code == 400
    assert response.json() == {"text": ["The text has 101 characters, above the limit of 100."]}
    assert not Source.objects.exists()


def test_text_at_the_limit_is_accepted(api, settings):
    settings.MAX_TEXT_CHARS = 100

    response = api.post(SOURCES, {"kind": "TEXT", "text": "a" * 100})

    assert response.status_code == 202


def test_text_with_a_null_character_is_400(api):
    response = api.post(SOURCES, {"kind": "TEXT", "text": "abc\x00def"})

    assert response.status_code == 400
    assert "text" in response.json()


def test_an_oversized_json_body_is_413_before_it_is_parsed(api, settings):
    settings.MAX_TEXT_CHARS = 10

    response = api.post(SOURCES, {"kind": "TEXT", "text": "a" * 200_000})

    assert response.status_code == 413
    assert "detail" in response.json()
    assert not Source.objects.exists()


def test_a_title_longer_than_255_characters_is_400(api):
    response = api.post(SOURCES, {"kind": "TEXT", "text": "Some text.", "title": "t" * 256})

    assert response.status_code == 400
    assert "title" in response.json()


# --- Create: kinds and malformed input ------------------------------------------


@pytest.mark.parametrize("kind", ["VIDEO", "text", "", None, 5])
def test_an_unknown_kind_is_400_and_creates_nothing(api, kind):
    response = api.post(SOURCES, {"kind": kind, "text": "Some text."})

    assert response.status_code == 400
    assert "kind" in response.json()
    assert not Source.objects.exists()


def test_a_missing_kind_is_400(api):
    response = api.post(SOURCES, {"text": "Some text."})

    assert response.status_code == 400
    assert response.json() == {"kind": ["This field is required."]}


def test_a_json_array_body_is_400(api):
    response = api.post(SOURCES, [{"kind": "TEXT", "text": "x"}])

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Expected an object."]}


def test_malformed_json_is_400_with_a_detail(api):
    response = api.post(SOURCES, data='{"kind": "TEXT", "text": ', content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_file_kind_sent_as_json_is_400_for_the_missing_file(api):
    response = api.post(SOURCES, {"kind": "PDF", "text": "not a file"})

    assert response.status_code == 400
    assert response.json() == {"file": ["No file was submitted."]}


# --- Create: YOUTUBE ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VideoID}",
        f"https://youtu.be/{VideoID}",
        f"https://www.youtube.com/watch?v={VideoID}&t=42s",
        VideoID,
    ],
)
def test_a_youtube_source_stores_the_canonical_url(api, url):
    response = api.post(SOURCES, {"kind": "YOUTUBE", "url": url})

    assert response.status_code == 202
    source = Source.objects.get(pk=response.json()["id"])
    assert source.kind == Source.Kind.YOUTUBE
    assert source.url == f"https://www.youtube.com/watch?v={VideoID}"
    assert response.json()["url"] == source.url


@pytest.mark.parametrize(
    "url",
    [
        "https://vimeo.com/12345",
        "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "http://127.0.0.1:8000/watch?v=dQw4w9WgXcQ",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://www.youtube.com/watch?v=short",
        "not a url",
        "",
    ],
)
def test_a_non_youtube_url_is_400_and_creates_nothing(api, url):
    response = api.post(SOURCES, {"kind": "YOUTUBE", "url": url})

    assert response.status_code == 400
    assert "url" in response.json()
    assert not Source.objects.exists()


def test_a_youtube_source_without_url_is_400(api):
    response = api.post(SOURCES, {"kind": "YOUTUBE"})

    assert response.status_code == 400
    assert response.json() == {"url": ["This field is required."]}


# --- List -----------------------------------------------------------------------------


def test_the_list_shows_only_my_sources_newest_first(api, user, other_user):
    first = make_source(user, title="first")
    second = make_source(user, title="second")
    make_source(other_user, title="not mine")

    response = api.get(SOURCES)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [second.pk, first.pk]


def test_the_list_is_paginated(api, user, settings):
    for index in range(settings.REST_FRAMEWORK["PAGE_SIZE"] + 1):
        make_source(user, title=f"source {index}")

    first_page = api.get(SOURCES).json()
    second_page = api.get(first_page["next"]).json()

    assert first_page["count"] == settings.REST_FRAMEWORK["PAGE_SIZE"] + 1
    assert len(first_page["results"]) == settings.REST_FRAMEWORK["PAGE_SIZE"]
    assert len(second_page["results"]) == 1
    assert second_page["next"] is None


def test_the_list_filters_by_processing_status(api, user):
    failed = make_source(user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)
    make_source(user, processing_status=Status.COMPLETED)

    response = api.get(SOURCES, {"processing_status": "FAILED"})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [failed.pk]


def test_a_blank_status_filter_lists_everything(api, user):
    make_source(user, processing_status=Status.FAILED)
    make_source(user, processing_status=Status.COMPLETED)

    response = api.get(SOURCES, {"processing_status": ""})

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_an_invalid_status_filter_is_400(api):
    response = api.get(SOURCES, {"processing_status": "DONE"})

    assert response.status_code == 400
    assert "processing_status" in response.json()


def test_list_items_carry_progress_note_and_usage(api, user):
    source = make_source(
        user,
        processing_status=Status.COMPLETED,
        prompt_tokens=120,
        completion_tokens=80,
        visuals=[Visual.Status.COMPLETED, Visual.Status.FAILED, Visual.Status.PENDING],
    )
    note = make_note(source)

    item = api.get(SOURCES).json()["results"][0]

    assert item["progress"] == {"visuals_total": 3, "visuals_done": 2, "chunks_total": 0, "chunks_done": 0}
    assert item["note"] == note.pk
    assert item["usage"] == {"prompt_tokens": 120, "completion_tokens": 80}
    assert "visuals" not in item


def test_the_list_runs_the_same_number_of_queries_for_many_sources(api, user):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(SOURCES).status_code == 200
        return len(queries)

    source = make_source(user, visuals=[Visual.Status.COMPLETED])
    make_note(source)
    few = queries_for_list()
    for _ in range(5):
        source = make_source(user, visuals=[Visual.Status.COMPLETED, Visual.Status.FAILED])
        make_note(source)

    assert queries_for_list() == few


# --- Detail ----------------------------------------------------------------------------


def test_the_detail_shows_progress_visuals_note_and_usage(api, user):
    source = make_source(
        user,
        processing_status=Status.PROCESSING,
        processing_stage=Stage.GENERATING_VISUALS,
        prompt_tokens=10,
        completion_tokens=5,
        visuals=[Visual.Status.COMPLETED, Visual.Status.FAILED, Visual.Status.PROCESSING],
    )

    response = api.get(detail_url(source))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == source.pk
    assert body["processing_status"] == "PROCESSING"
    assert body["processing_stage"] == "GENERATING_VISUALS"
    assert body["progress"] == {"visuals_total": 3, "visuals_done": 2, "chunks_total": 0, "chunks_done": 0}
    assert body["note"] is None
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 5}
    assert [visual["status"] for visual in body["visuals"]] == ["COMPLETED", "FAILED", "PROCESSING"]
    assert set(body["visuals"][0]) == {
        "id",
        "placeholder_id",
        "description",
        "search_query",
        "status",
        "image_url",
        "error_message",
    }
    assert body["visuals"][0]["image_url"] == "https://images.example/leaf.png"
    assert body["visuals"][1]["error_message"] == "no image found"


def test_a_failed_source_shows_its_stage_and_message(api, user):
    source = make_source(
        user,
        processing_status=Status.FAILED,
        processing_stage=Stage.EXTRACTING_TEXT,
        error_message="The PDF has no text layer.",
    )

    body = api.get(detail_url(source)).json()

    assert body["processing_status"] == "FAILED"
    assert body["processing_stage"] == "EXTRACTING_TEXT"
    assert body["error_message"] == "The PDF has no text layer."


def test_the_detail_runs_the_same_number_of_queries_for_many_visuals(api, user):
    def queries_for(source) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(detail_url(source)).status_code == 200
        return len(queries)

    small = make_source(user, visuals=[Visual.Status.COMPLETED])
    large = make_source(user, visuals=[Visual.Status.COMPLETED] * 10)
    make_note(large)

    assert queries_for(large) == queries_for(small)


def test_another_users_source_is_404(api, other_user):
    source = make_source(other_user)

    response = api.get(detail_url(source))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_a_source_that_does_not_exist_is_404(api):
    assert api.get("/api/sources/987654/").status_code == 404


def test_an_id_beyond_the_integer_range_is_404(api):
    assert api.get(f"/api/sources/{10**30}/").status_code == 404


# --- Retry ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.FAILED, Status.COMPLETED_WITH_ERRORS])
def test_a_stopped_source_can_be_retried(api, user, status, django_capture_on_commit_callbacks):
    stage = Stage.ANALYZING_TEXT if status == Status.FAILED else None
    source = make_source(user, processing_status=status, processing_stage=stage, error_message="It broke.")
    if status == Status.COMPLETED_WITH_ERRORS:
        make_note(source)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(retry_url(source))

    assert response.status_code == 202
    body = response.json()
    assert body["id"] == source.pk
    assert body["processing_status"] == "PROCESSING"
    assert body["error_message"] == ""
    assert len(callbacks) == 1
    source.refresh_from_db()
    assert source.processing_status == Status.PROCESSING


def test_a_failed_source_resumes_in_the_stage_it_failed_in(api, user):
    source = make_source(user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)

    body = api.post(retry_url(source)).json()

    assert body["processing_stage"] == "ANALYZING_TEXT"


@pytest.mark.parametrize("status", [Status.PENDING, Status.PROCESSING, Status.COMPLETED])
def test_retry_is_409_unless_failed_or_completed_with_errors(api, user, status):
    source = make_source(user, processing_status=status)

    response = api.post(retry_url(source))

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert status in response.json()["detail"]
    source.refresh_from_db()
    assert source.processing_status == status


def test_retrying_another_users_source_is_404_and_changes_nothing(api, other_user):
    source = make_source(other_user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)

    response = api.post(retry_url(source))

    assert response.status_code == 404
    source.refresh_from_db()
    assert source.processing_status == Status.FAILED


def test_retry_with_get_is_405(api, user):
    source = make_source(user, processing_status=Status.FAILED)

    assert api.get(retry_url(source)).status_code == 405


# --- Delete ---------------------------------------------------------------------------


def test_deleting_a_source_removes_its_visuals_note_quiz_and_cards(api, user):
    source = make_source(user, visuals=[Visual.Status.COMPLETED, Visual.Status.FAILED])
    make_note(source)

    response = api.delete(detail_url(source))

    assert response.status_code == 204
    assert not Source.objects.filter(pk=source.pk).exists()
    assert not Visual.objects.exists()
    assert not Note.objects.exists()
    assert not QuizQuestion.objects.exists()
    assert not Flashcard.objects.exists()


def test_deleting_a_source_removes_its_upload_once_committed(api, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    created = api.post(
        SOURCES,
        {"kind": "PDF", "file": SimpleUploadedFile("notes.pdf", PDF_BYTES)},
        format="multipart",
    )
    source = Source.objects.get(pk=created.json()["id"])
    storage, name = source.file.storage, source.file.name
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.delete(detail_url(source))
    assert response.status_code == 204
    assert storage.exists(name), "the file must stay until the deletion is committed"
    for callback in callbacks:
        callback()

    assert not storage.exists(name)


def test_deleting_another_users_source_is_404_and_keeps_it(api, other_user):
    source = make_source(other_user)

    response = api.delete(detail_url(source))

    assert response.status_code == 404
    assert Source.objects.filter(pk=source.pk).exists()


# --- Authentication and throttling -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/sources/"),
        ("post", "/api/sources/"),
        ("get", "/api/sources/1/"),
        ("delete", "/api/sources/1/"),
        ("post", "/api/sources/1/retry/"),
        ("get", "/api/notes/"),
        ("get", "/api/notes/1/"),
        ("get", "/api/notes/1/flashcards.csv"),
        ("get", "/api/notes/1/flashcards.apkg"),
    ],
)
def test_every_endpoint_without_credentials_is_401(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"detail"}


def test_an_invalid_token_is_401(client, user):
    response = client.get(SOURCES, HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Invalid token."}


def test_a_session_login_works_too(client, user):
    client.force_login(user)

    assert client.get(SOURCES).status_code == 200


def test_creating_sources_is_throttled_with_retry_after(api, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "sources_create", "2/min")

    statuses = [api.post(SOURCES, {"kind": "TEXT", "text": f"text {n}"}).status_code for n in range(3)]
    throttled = api.post(SOURCES, {"kind": "TEXT", "text": "one more"})

    assert statuses == [202, 202, 429]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert set(throttled.json()) == {"detail"}
    assert Source.objects.count() == 2


def test_listing_does_not_use_up_the_create_allowance(api, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "sources_create", "1/min")

    for _ in range(3):
        assert api.get(SOURCES).status_code == 200

    assert api.post(SOURCES, {"kind": "TEXT", "text": "text"}).status_code == 202


def test_the_create_allowance_is_per_user(api, other_api, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "sources_create", "1/min")

    assert api.post(SOURCES, {"kind": "TEXT", "text": "mine"}).status_code == 202
    assert api.post(SOURCES, {"kind": "TEXT", "text": "mine again"}).status_code == 429
    assert other_api.post(SOURCES, {"kind": "TEXT", "text": "theirs"}).status_code == 202


def test_the_api_keeps_working_when_the_throttle_cache_is_down(api, settings, caplog, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    # The project's loggers do not propagate to the root, where caplog listens.
    monkeypatch.setattr(logging.getLogger("notes"), "handlers", [caplog.handler])

    response = api.post(SOURCES, {"kind": "TEXT", "text": "Plants turn light into sugar."})

    assert response.status_code == 202
    assert "cache unavailable" in caplog.text
    assert api.get(SOURCES).status_code == 200
    assert api.get(detail_url(Source.objects.get())).status_code == 200
    assert api.get("/api/notes/").status_code == 200


def test_users_only_ever_see_their_own_rows_across_the_api(user, other_user):
    mine = make_source(user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)
    my_note = make_note(mine)
    theirs = make_source(other_user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)
    their_note = make_note(theirs)
    api = client_for(user)

    assert [item["id"] for item in api.get(SOURCES).json()["results"]] == [mine.pk]
    assert [item["id"] for item in api.get("/api/notes/").json()["results"]] == [my_note.pk]
    for path in (
        detail_url(theirs),
        f"/api/notes/{their_note.pk}/",
        f"/api/notes/{their_note.pk}/flashcards.csv",
        f"/api/notes/{their_note.pk}/flashcards.apkg",
    ):
        assert api.get(path).status_code == 404, path
    assert api.post(retry_url(theirs)).status_code == 404
    assert api.delete(detail_url(theirs)).status_code == 404
