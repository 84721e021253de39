"""The whole product through its HTTP API, with a real worker: register,
submit, follow the progress, read the note, quiz and flashcards."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from .conftest import wait_for

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def client():
    api = APIClient()
    response = api.post(
        "/api/auth/register/", {"username": "student", "password": "correct horse battery"}, format="json"
    )
    assert response.status_code == 201
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return api


def follow(client: APIClient, source_id: int) -> dict:
    def finished():
        body = client.get(f"/api/sources/{source_id}/").json()
        return body if body["processing_status"] not in ("PENDING", "PROCESSING") else None

    return wait_for(finished, timeout=90, message=f"source {source_id} to finish")


def test_a_student_submits_text_and_gets_a_note_quiz_and_flashcards(celery_worker, client):
    response = client.post(
        "/api/sources/", {"kind": "TEXT", "text": (SAMPLES / "lecture.md").read_text()}, format="json"
    )
    assert response.status_code == 202
    created = response.json()
    assert created["processing_status"] in ("PENDING", "PROCESSING")

    source = follow(client, created["id"])

    assert source["processing_status"] == "COMPLETED", source["error_message"]
    assert source["processing_stage"] is None
    assert (
        source["progress"]["visuals_total"]
        == source["progress"]["visuals_done"]
        == len(source["visuals"])
        > 0
    )
    note = client.get(f"/api/notes/{source['note']}/").json()
    assert note["source"] == source["id"]
    assert "[VISUAL::" not in note["markdown_content"]
    assert len(note["quiz"]) >= 5
    for question in note["quiz"]:
        assert set(question) == {"question", "options", "answer_index", "explanation"}
        assert 0 <= question["answer_index"] < len(question["options"])
    assert len(note["flashcards"]) >= 5
    assert set(note["flashcards"][0]) == {"front", "back"}
    listing = client.get("/api/sources/").json()
    assert listing["count"] == 1
    assert listing["results"][0]["id"] == source["id"]


def test_generated_images_are_served_by_the_server_that_answers(celery_worker, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with (SAMPLES / "lecture.vtt").open("rb") as captions:
        response = client.post("/api/sources/", {"kind": "CAPTIONS", "file": captions}, format="multipart")
    assert response.status_code == 202, response.content

    source = follow(client, response.json()["id"])

    assert source["processing_status"] == "COMPLETED", source["error_message"]
    image_url = source["visuals"][0]["image_url"]
    assert image_url.startswith("http://testserver/images/generated/")
    note = client.get(f"/api/notes/{source['note']}/").json()
    assert image_url in note["html_content"]
    image = client.get(image_url.removeprefix("http://testserver"))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/svg+xml"


def test_a_failed_source_is_retried_from_where_it_stopped(celery_worker, client, settings):
    settings.AI_PROVIDERS = ["openai"]  # no key configured: the AI step fails for good
    response = client.post(
        "/api/sources/", {"kind": "TEXT", "text": (SAMPLES / "lecture.md").read_text()}, format="json"
    )
    source = follow(client, response.json()["id"])
    assert source["processing_status"] == "FAILED"
    assert source["processing_stage"] == "ANALYZING_TEXT"
    assert "OPENAI_API_KEY" in source["error_message"]

    settings.AI_PROVIDERS = ["local"]
    retry = client.post(f"/api/sources/{source['id']}/retry/")
    assert retry.status_code == 202
    source = follow(client, source["id"])

    assert source["processing_status"] == "COMPLETED", source["error_message"]
    assert source["error_message"] == ""
    assert client.post(f"/api/sources/{source['id']}/retry/").status_code == 409


def test_audio_without_a_transcription_provider_fails_with_a_readable_reason(
    celery_worker, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    mp3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(2048)
    upload = SimpleUploadedFile("lecture.mp3", mp3, content_type="audio/mpeg")

    response = client.post("/api/sources/", {"kind": "AUDIO", "file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    source = follow(client, response.json()["id"])

    assert source["processing_status"] == "FAILED"
    assert source["processing_stage"] == "EXTRACTING_TEXT"
    assert "audio needs a transcription provider" in source["error_message"]
