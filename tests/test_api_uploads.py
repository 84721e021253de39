"""POST /api/sources/ with a file: size limits, content sniffing, file names."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.uploads import CAPTIONS_MAX_BYTES, display_filename
from notes.models import Source
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import MP3_BYTES, PDF_BYTES, PNG_BYTES, SRT_TEXT, VTT_TEXT, multipart_body, wav_bytes

pytestmark = pytest.mark.django_db

SOURCES = "/api/sources/"
STORED_NAME = re.compile(r"^uploads/[0-9a-f]{32}\.(pdf|audio|captions)$")


def upload(api, kind: str, name: str, content: bytes, **fields):
    return api.post(
        SOURCES,
        {"kind": kind, "file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


# --- Accepted files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("PDF", "lecture.pdf", PDF_BYTES),
        ("AUDIO", "lecture.wav", wav_bytes()),
        ("AUDIO", "lecture.mp3", MP3_BYTES),
        ("CAPTIONS", "lecture.vtt", VTT_TEXT.encode()),
        ("CAPTIONS", "lecture.srt", SRT_TEXT.encode()),
        ("CAPTIONS", "lecture.srt", b"\xef\xbb\xbf" + SRT_TEXT.encode()),
        ("CAPTIONS", "lecture.srt", SRT_TEXT.encode("utf-16")),
        ("CAPTIONS", "lecture.srt", SRT_TEXT.replace("sugar", "sucre \u00e9t\u00e9").encode("cp1252")),
    ],
)
def test_a_file_of_its_kind_is_accepted_and_stored_under_a_random_name(api, settings, kind, name, content):
    response = upload(api, kind, name, content, title="Week 3")

    assert response.status_code == 202, response.json()
    source = Source.objects.get(pk=response.json()["id"])
    assert source.kind == kind
    assert source.title == "Week 3"
    assert STORED_NAME.match(source.file.name)
    assert source.original_filename == name
    assert response.json()["original_filename"] == name
    with source.file.open("rb") as stored:
        assert stored.read() == content


def test_the_file_name_does_not_decide_the_type(api):
    response = upload(api, "PDF", "scan.png", PDF_BYTES)

    assert response.status_code == 202


def test_the_client_content_type_does_not_decide_the_type(api):
    fake = SimpleUploadedFile("slides.pdf", PNG_BYTES, content_type="application/pdf")

    response = api.post(SOURCES, {"kind": "PDF", "file": fake}, format="multipart")

    assert response.status_code == 415


# --- Wrong content: 415 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("PDF", "slides.pdf", PNG_BYTES),
        ("PDF", "slides.pdf", b"Just some text pretending to be a PDF."),
        ("PDF", "slides.pdf", b" %PDF-1.4 with something before the header"),
        ("AUDIO", "lecture.mp3", b"This is a plain text file, not a recording.\n" * 20),
        ("AUDIO", "lecture.mp3", PDF_BYTES),
        ("AUDIO", "lecture.mp3", PNG_BYTES),
        ("CAPTIONS", "lecture.vtt", PNG_BYTES),
        ("CAPTIONS", "lecture.vtt", b"Some notes without any timing lines.\n"),
        ("CAPTIONS", "lecture.srt", SRT_TEXT.encode() + b"\x00\x01\x02binary"),
    ],
)
def test_a_file_whose_content_is_not_of_its_kind_is_415(api, settings, kind, name, content):
    response = upload(api, kind, name, content)

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}
    assert not Source.objects.exists()
    assert stored_files(settings) == []


def test_a_png_renamed_pdf_is_415(api):
    response = upload(api, "PDF", "homework.pdf", PNG_BYTES)

    assert response.status_code == 415
    assert response.json()["detail"].startswith("The file is not a PDF document")


def test_a_text_file_sent_as_audio_is_415(api):
    response = upload(api, "AUDIO", "lecture.m4a", b"WEBVTT\n\nnot audio at all\n")

    assert response.status_code == 415
    assert "audio" in response.json()["detail"]


# --- Missing or empty file: 400 -------------------------------------------------------------


def test_a_missing_file_is_400(api):
    response = api.post(SOURCES, {"kind": "PDF"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["No file was submitted."]}


def test_an_empty_file_is_400(api):
    response = upload(api, "PDF", "empty.pdf", b"")

    assert response.status_code == 400
    assert "file" in response.json()


def test_a_string_instead_of_a_file_is_400(api):
    response = api.post(SOURCES, {"kind": "CAPTIONS", "file": "WEBVTT"}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()


def test_an_unknown_kind_in_a_form_is_400(api):
    response = upload(api, "VIDEO", "lecture.pdf", PDF_BYTES)

    assert response.status_code == 400
    assert "kind" in response.json()


# --- Size: 413 --------------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_413(api, settings):
    settings.MAX_UPLOAD_BYTES = 1024

    response = upload(api, "PDF", "big.pdf", PDF_BYTES + b"0" * 2048)

    assert response.status_code == 413
    assert set(response.json()) == {"detail"}
    assert not Source.objects.exists()
    assert stored_files(settings) == []


def test_an_upload_at_the_limit_is_accepted(api, settings):
    content = PDF_BYTES + b"0" * 100
    settings.MAX_UPLOAD_BYTES = len(content)

    assert upload(api, "PDF", "exact.pdf", content).status_code == 202


def test_a_request_declaring_a_huge_body_is_413_before_it_is_read(api, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    body, content_type = multipart_body({"kind": "PDF"}, filename="big.pdf", content=PDF_BYTES)

    response = api.generic("POST", SOURCES, body, content_type=content_type, CONTENT_LENGTH=str(10**9))

    assert response.status_code == 413
    assert "1,000,000,000 bytes" in response.json()["detail"]
    assert not Source.objects.exists()


def test_captions_have_their_own_lower_limit(api, settings):
    settings.MAX_UPLOAD_BYTES = CAPTIONS_MAX_BYTES * 2
    content = VTT_TEXT.encode() + b"x" * CAPTIONS_MAX_BYTES

    response = upload(api, "CAPTIONS", "huge.vtt", content)

    assert response.status_code == 413
    assert "CAPTIONS" in response.json()["detail"]


def test_a_large_upload_is_checked_from_a_temporary_file(api, settings):
    """Over FILE_UPLOAD_MAX_MEMORY_SIZE Django streams the upload to disk;
    the checks work the same on it."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    content = PDF_BYTES + b"%" * 4096

    response = upload(api, "PDF", "big.pdf", content)

    assert response.status_code == 202
    assert upload(api, "AUDIO", "big.mp3", PNG_BYTES + b"\x00" * 4096).status_code == 415


# --- Hostile file names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("/absolute/path/notes.pdf", "notes.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("x" * 400 + ".pdf", "x" * 251 + ".pdf"),
        ("<script>alert(1)</script>.pdf", "script>.pdf"),
    ],
)
def test_a_hostile_file_name_never_becomes_a_path(api, settings, filename, shown):
    body, content_type = multipart_body({"kind": "PDF"}, filename=filename, content=PDF_BYTES)

    response = api.generic("POST", SOURCES, body, content_type=content_type)

    assert response.status_code == 202, response.content
    source = Source.objects.get(pk=response.json()["id"])
    assert STORED_NAME.match(source.file.name)
    assert source.original_filename == shown
    media_root = settings.MEDIA_ROOT.resolve()
    assert [path.resolve().parent for path in stored_files(settings)] == [media_root / "uploads"]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\notes.pdf", "notes.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("tab\there.pdf", "tabhere.pdf"),
        ("\u202eevil\u200b.pdf", "evil.pdf"),
        ("..", ""),
        ("", ""),
        (None, ""),
        ("  spaced   name .pdf ", "spaced name .pdf"),
        ("é" * 300, "é" * 255),
    ],
)
def test_the_display_name_is_only_a_clean_base_name(name, shown):
    assert display_filename(name) == shown


def test_an_oversized_body_is_refused_before_a_session_login_would_parse_it(client, user, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    client.force_login(user)
    body, content_type = multipart_body(
        {"kind": "PDF"}, filename="big.pdf", content=PDF_BYTES + b"0" * 100_000
    )

    response = client.generic("POST", SOURCES, body, content_type=content_type)

    assert response.status_code == 413
