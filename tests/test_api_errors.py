"""One error format: DRF's shapes, and no traceback or secret in any answer."""

import pytest
from django.core.exceptions import RequestDataTooBig

from api.errors import INTERNAL_ERROR_MESSAGE
from notes import selectors
from tests.api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

SECRET = "sk-test-THIS-MUST-NOT-LEAK-0123456789"


def test_an_unexpected_error_is_a_plain_500_without_traceback(api, monkeypatch, settings):
    settings.DEBUG = False

    def explode(**kwargs):
        raise RuntimeError(f"database password is {SECRET}")

    monkeypatch.setattr(selectors, "source_list", explode)

    response = api.get("/api/sources/")

    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL_ERROR_MESSAGE}
    body = response.content.decode()
    assert SECRET not in body
    assert "Traceback" not in body
    assert "RuntimeError" not in body


def test_an_unexpected_error_is_a_plain_500_even_with_debug_on(api, monkeypatch, settings):
    settings.DEBUG = True

    def explode(**kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(selectors, "source_list", explode)

    response = api.get("/api/sources/")

    assert response.status_code == 500
    assert SECRET not in response.content.decode()


def test_an_unexpected_error_is_logged_with_its_traceback(api, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(logging.getLogger("notes"), "handlers", [caplog.handler])
    monkeypatch.setattr(selectors, "source_list", lambda **kwargs: 1 / 0)

    api.get("/api/sources/")

    assert any(record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records)


def test_djangos_request_size_guard_answers_413(api, monkeypatch):
    def too_big(**kwargs):
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")

    monkeypatch.setattr(selectors, "source_list", too_big)

    response = api.get("/api/sources/")

    assert response.status_code == 413
    assert set(response.json()) == {"detail"}


def test_too_many_form_fields_are_400(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"field{n}": "x" for n in range(10)}

    response = api.post("/api/sources/", {"kind": "TEXT", "text": "x", **fields}, format="multipart")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_validation_errors_keep_drfs_field_shape(api):
    response = api.post("/api/sources/", {"kind": "TEXT", "text": "", "title": "t" * 300})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"text", "title"}
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages) for messages in body.values()
    )


def test_an_unsupported_content_type_is_415(api):
    response = api.post("/api/sources/", "kind=TEXT", content_type="text/plain")

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}


def test_a_method_not_allowed_is_405_with_a_detail(api):
    response = api.put("/api/sources/", {})

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}
