"""Fixtures and builders of the API tests (imported by tests/test_api*.py and
tests/test_admin.py).

Each test gets its own media folder and its own in-memory cache, so uploads
never land in the project's data folder and throttle counts never leak from
one test into the next (nor into the Redis that other suites use).
"""

import io
import struct
import uuid
import wave

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual

__all__ = [
    "MP3_BYTES",
    "PDF_BYTES",
    "PNG_BYTES",
    "SRT_TEXT",
    "VTT_TEXT",
    "api",
    "api_isolation",
    "client_for",
    "make_note",
    "make_source",
    "multipart_body",
    "other_api",
    "other_user",
    "user",
    "wav_bytes",
]

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
# An ID3v2 tag followed by one MPEG-1 Layer III frame header.
MP3_BYTES = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413
VTT_TEXT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nPhotosynthesis turns light into sugar.\n"
SRT_TEXT = "1\n00:00:00,000 --> 00:00:02,000\nPhotosynthesis turns light into sugar.\n\n"


def wav_bytes(seconds: float = 0.1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(struct.pack("<h", 0) * int(8000 * seconds))
    return buffer.getvalue()


def multipart_body(fields: dict[str, str], *, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body written by hand, so that the file name reaches the
    server exactly as given (Django's test client would clean it first)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename.encode("utf-8", "surrogateescape")
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(autouse=True)
def api_isolation(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"api-tests-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="ada", password="a-long-pass-phrase-1")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user(username="grace", password="another-pass-phrase-2")


def client_for(account) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=account)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_api(other_user) -> APIClient:
    return client_for(other_user)


def make_source(owner, **fields) -> Source:
    fields.setdefault("kind", Source.Kind.TEXT)
    fields.setdefault("title", "Photosynthesis")
    fields.setdefault("input_text", "Plants turn light into sugar.")
    visuals = fields.pop("visuals", [])
    source = Source.objects.create(owner=owner, **fields)
    for position, status in enumerate(visuals):
        Visual.objects.create(
            source=source,
            placeholder_id=f"p{position}",
            position=position,
            description=f"diagram {position}",
            search_query=f"diagram {position}",
            status=status,
            image_url="https://images.example/leaf.png" if status == Visual.Status.COMPLETED else "",
            error_message="no image found" if status == Visual.Status.FAILED else "",
        )
    return source


def make_note(source: Source, *, cards: list[tuple[str, str]] | None = None, questions: int = 2) -> Note:
    note = Note.objects.create(
        source=source,
        owner=source.owner,
        title=f"Note of {source.title}",
        markdown_content="# Photosynthesis\n\nLight becomes sugar.\n",
        html_content="<h1>Photosynthesis</h1>\n<p>Light becomes sugar.</p>",
    )
    for position in range(questions):
        QuizQuestion.objects.create(
            note=note,
            position=position,
            question=f"Question {position}?",
            options=["light", "water", "soil"],
            answer_index=0,
            explanation="Light drives it.",
        )
    if cards is None:
        cards = [("What drives photosynthesis?", "Light"), ("Where does it happen?", "In chloroplasts")]
    for position, (front, back) in enumerate(cards):
        Flashcard.objects.create(note=note, position=position, front=front, back=back)
    return note
