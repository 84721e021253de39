"""Every request body is bounded before it is read (api.body_limits), JSON
is the only format where only JSON is expected, and deep nesting is a 400
(api.parsers)."""

import asyncio
import io
import json

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path
from rest_framework.test import APIClient

from api.body_limits import (
    SMALL_BODY_BYTES,
    limit_asgi_body,
    max_body_bytes,
    text_body_bytes,
    upload_body_bytes,
)
from api.parsers import JSON_MAX_CONTAINERS, JSON_MAX_DEPTH
from notes.models import Note, Source
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import make_note, make_source, multipart_body

pytestmark = pytest.mark.django_db

HUGE = 300 * 1024 * 1024
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def declare(client, method: str, path: str, length: int, content_type: str = "application/json", **extra):
    """A request that declares `length` bytes but carries only a few: the
    test client's input raises if anything reads past them, so a 413 here
    was answered unread."""
    return client.generic(method, path, b"{}", content_type=content_type, CONTENT_LENGTH=str(length), **extra)


# --- Content-Length over the limit: 413, unread -------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/auth/register/"),
        ("POST", "/api/auth/token/"),
        ("GET", "/api/sources/"),
        ("POST", "/api/sources/1/retry/"),
        ("DELETE", "/api/sources/1/"),
        ("GET", "/api/notes/1/"),
        ("GET", "/api/health/"),
        ("POST", "/admin/login/"),
        ("POST", "/no/such/path/"),
    ],
)
def test_every_route_refuses_a_declared_body_over_its_limit_unread(anonymous, method, path):
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE if path.startswith("/admin/") else SMALL_BODY_BYTES

    response = declare(anonymous, method, path, HUGE, content_type="multipart/form-data; boundary=x")

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body has {HUGE:,} bytes, above the limit of {limit:,} bytes."
    }


def test_the_auth_endpoints_refuse_a_multipart_body_that_an_anonymous_client_says_is_huge(anonymous):
    body, content_type = multipart_body({"username": "x"}, filename="big.bin", content=b"0" * 1024)

    response = anonymous.generic(
        "POST", "/api/auth/register/", body, content_type=content_type, CONTENT_LENGTH=str(HUGE)
    )

    assert response.status_code == 413


def test_source_creation_allows_an_upload_or_a_text_but_no_more(api):
    multipart = "multipart/form-data; boundary=x"

    assert declare(api, "POST", "/api/sources/", upload_body_bytes() + 1, multipart).status_code == 413
    assert declare(api, "POST", "/api/sources/", text_body_bytes() + 1).status_code == 413
    small = json.dumps({"kind": "TEXT", "text": "Light becomes sugar."}).encode()
    response = api.generic(
        "POST", "/api/sources/", small, content_type="application/json", CONTENT_LENGTH=str(len(small))
    )
    assert response.status_code == 202


def test_a_body_just_over_the_small_limit_is_refused_and_one_at_it_is_read(anonymous):
    at_limit = json.dumps({"username": "lin", "password": "x" * (SMALL_BODY_BYTES - 40)}).encode()
    at_limit += b" " * (SMALL_BODY_BYTES - len(at_limit))

    assert (
        anonymous.generic(
            "POST", "/api/auth/token/", at_limit + b" ", content_type="application/json"
        ).status_code
        == 413
    )
    assert (
        anonymous.generic("POST", "/api/auth/token/", at_limit, content_type="application/json").status_code
        == 400
    )


# --- JSON only where JSON is expected ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/auth/token/"])
@pytest.mark.parametrize("fmt", ["multipart", "form"])
def test_the_auth_endpoints_take_json_only(anonymous, path, fmt):
    data = {"username": "lin", "password": PASSWORD}
    if fmt == "multipart":
        response = anonymous.post(path, data, format="multipart")
    else:
        response = anonymous.post(
            path, "username=lin&password=x", content_type="application/x-www-form-urlencoded"
        )

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}
    assert not get_user_model().objects.filter(username="lin").exists()


# --- Text sources: the JSON limit serves the text limit ------------------------------------------------


@pytest.mark.parametrize(
    "char",
    ["\u4e2d", "\U0001f600"],
    ids=["cjk-escaped-6-bytes", "surrogate-pair-escaped-12-bytes"],
)
def test_a_text_at_the_character_limit_is_accepted_however_it_is_escaped(api, char):
    text = char * django_settings.MAX_TEXT_CHARS
    body = json.dumps({"kind": "TEXT", "text": text}, ensure_ascii=True).encode()
    assert len(body) > 6 * django_settings.MAX_TEXT_CHARS

    response = api.generic("POST", "/api/sources/", body, content_type="application/json")

    assert response.status_code == 202, response.content[:300]
    assert Source.objects.get().input_text == text


def test_a_text_one_character_over_the_limit_is_a_400_not_a_413(api):
    body = json.dumps({"kind": "TEXT", "text": "\u4e2d" * (django_settings.MAX_TEXT_CHARS + 1)}).encode()

    response = api.generic("POST", "/api/sources/", body, content_type="application/json")

    assert response.status_code == 400
    assert "text" in response.json()


def test_djangos_own_guard_is_never_below_the_text_limit():
    assert text_body_bytes() <= django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# --- JSON nesting -----------------------------------------------------------------------------


@pytest.mark.parametrize("opening", ["[", '{"a":'])
@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/sources/"])
def test_json_nested_ten_thousand_deep_is_a_400(api, path, opening):
    closing = "]" if opening == "[" else "}"
    body = opening * 10_000 + "1" + closing * 10_000

    response = api.generic("POST", path, body, content_type="application/json")

    assert response.status_code == 400
    assert f"deeper than {JSON_MAX_DEPTH} levels" in response.json()["detail"]


def test_nesting_at_the_limit_is_parsed_and_brackets_in_strings_do_not_count(anonymous):
    # The object itself is one level.
    extra = "[" * (JSON_MAX_DEPTH - 1) + "]" * (JSON_MAX_DEPTH - 1)
    head = f'{{"username": "lin", "password": "{PASSWORD}", '
    in_a_string = '"note": "' + "[{" * 10_000 + '"'

    too_deep = anonymous.generic(
        "POST", "/api/auth/register/", f'{head}"extra": [{extra}]}}', content_type="application/json"
    )
    response = anonymous.generic(
        "POST",
        "/api/auth/register/",
        f'{head}"extra": {extra}, {in_a_string}}}',
        content_type="application/json",
    )

    assert too_deep.status_code == 400
    assert response.status_code == 201, response.content


def test_a_body_of_thousands_of_empty_arrays_is_a_400_before_it_is_built(anonymous):
    body = "[" + "[]," * (JSON_MAX_CONTAINERS + 1) + "[]]"

    response = anonymous.generic("POST", "/api/auth/register/", body, content_type="application/json")

    assert response.status_code == 400
    assert f"more than {JSON_MAX_CONTAINERS:,} arrays and objects" in response.json()["detail"]


@max_body_bytes(123)
def small_page(request):
    return HttpResponse("ok")


@max_body_bytes(lambda method, content_type: 10 * SMALL_BODY_BYTES if method == "POST" else 0)
def upload_page(request):
    return HttpResponse(str(len(request.body)))


# This module is the URLconf of the next test (a page of another app).
urlpatterns = [path("small/", small_page), path("upload/", upload_page)]


@pytest.mark.urls(__name__)
def test_a_function_view_declares_its_own_limit(client):
    big = b"x" * (2 * SMALL_BODY_BYTES)

    assert client.post("/small/", b"x" * 123, content_type="text/plain").status_code == 200
    assert client.post("/small/", b"x" * 124, content_type="text/plain").status_code == 413
    assert client.post("/upload/", big, content_type="text/plain").content == str(len(big)).encode()
    assert client.generic("PUT", "/upload/", b"x", content_type="text/plain").status_code == 413


# --- Chunked bodies (no Content-Length), through the WSGI application ------------------------------


def call_wsgi(path: str, body: bytes, content_type: str = "application/json") -> tuple[str, bytes]:
    """One request to the WSGI application, its body chunked: what a WSGI
    server passes on for `Transfer-Encoding: chunked` (no CONTENT_LENGTH)."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    status = []
    chunks = get_wsgi_application()(environ, lambda code, headers, exc_info=None: status.append(code))
    try:
        return status[0], b"".join(chunks)
    finally:
        chunks.close()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_within_the_limit_is_read():
    body = json.dumps({"username": "lin", "password": PASSWORD}).encode()

    status, content = call_wsgi("/api/auth/register/", body)

    assert status.startswith("201"), content
    assert get_user_model().objects.filter(username="lin").exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_refused_after_the_limit():
    status, content = call_wsgi("/api/auth/register/", b"{" + b" " * (10 * SMALL_BODY_BYTES))

    assert status.startswith("413")
    assert json.loads(content) == {
        "detail": f"The request body is above the limit of {SMALL_BODY_BYTES:,} bytes."
    }


# --- The admin keeps working ------------------------------------------------------------------


def test_the_admin_login_and_a_large_admin_form_still_work(client, user, settings):
    settings.DEBUG = False
    get_user_model().objects.create_superuser(username="root", password="root-pass-phrase-9")
    note = make_note(make_source(user), cards=[("front", "back")], questions=0)
    card = note.flashcards.get()

    login = client.post("/admin/login/?next=/admin/", {"username": "root", "password": "root-pass-phrase-9"})
    assert login.status_code == 302
    long_back = "b" * (SMALL_BODY_BYTES * 2)
    form = {
        "title": "Edited",
        "markdown_content": note.markdown_content,
        "html_content": note.html_content,
        "quiz_questions-TOTAL_FORMS": "0",
        "quiz_questions-INITIAL_FORMS": "0",
        "flashcards-TOTAL_FORMS": "1",
        "flashcards-INITIAL_FORMS": "1",
        "flashcards-0-id": str(card.pk),
        "flashcards-0-note": str(note.pk),
        "flashcards-0-position": "0",
        "flashcards-0-front": "front",
        "flashcards-0-back": long_back,
        "_save": "Save",
    }
    response = client.post(f"/admin/notes/note/{note.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Note.objects.get(pk=note.pk).title == "Edited"
    assert note.flashcards.get().back == long_back
    # and its own limit holds, before the form (or the CSRF check) reads anything
    refused = declare(
        client, "POST", f"/admin/notes/note/{note.pk}/change/", HUGE, "multipart/form-data; boundary=x"
    )
    assert refused.status_code == 413


# --- ASGI -------------------------------------------------------------------------------------


class AsgiCall:
    """One request to the wrapped ASGI application, its body sent in chunks."""

    def __init__(self, path: str, chunks: list[bytes], headers: dict[str, str]) -> None:
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(name.encode(), value.encode()) for name, value in headers.items()]
            + [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        self.chunks = list(chunks)
        self.chunks_read = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        if self.chunks_read < len(self.chunks):
            self.chunks_read += 1
            more = self.chunks_read < len(self.chunks)
            return {"type": "http.request", "body": self.chunks[self.chunks_read - 1], "more_body": more}
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def run(self) -> tuple[int, bytes]:
        asyncio.run(limit_asgi_body(get_asgi_application())(self.scope, self.receive, self.send))
        start = next(message for message in self.sent if message["type"] == "http.response.start")
        body = b"".join(
            message.get("body", b"") for message in self.sent if message["type"] == "http.response.body"
        )
        return start["status"], body


def test_under_asgi_a_declared_body_over_the_limit_is_refused_unread():
    call = AsgiCall(
        "/api/auth/register/", [b"{}"], {"content-type": "application/json", "content-length": str(HUGE)}
    )

    status, body = call.run()

    assert status == 413
    assert call.chunks_read == 0
    assert json.loads(body)["detail"].startswith(f"The request body has {HUGE:,} bytes")


def test_under_asgi_a_streamed_body_is_cut_off_at_the_limit():
    chunk = b" " * (16 * 1024)
    call = AsgiCall("/api/auth/register/", [b"{"] + [chunk] * 1000, {"content-type": "application/json"})

    status, _ = call.run()

    assert status == 413
    assert call.chunks_read <= SMALL_BODY_BYTES // len(chunk) + 2


def test_under_asgi_a_body_within_the_limit_reaches_the_api():
    nested = ("[" * 100 + "]" * 100).encode()
    headers = {"content-type": "application/json", "content-length": str(len(nested))}
    call = AsgiCall("/api/auth/register/", [nested[:50], nested[50:]], headers)

    status, body = call.run()

    assert status == 400
    assert "deeper than" in json.loads(body)["detail"]
