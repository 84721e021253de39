"""Audio transcription with the real SDK against FakeOpenAI (multipart upload)."""

import io

import pytest
from django.test import override_settings

from pipeline import ratelimit
from pipeline.extractors.audio import MAX_AUDIO_BYTES, transcribe_audio
from pipeline.extractors.base import ExtractionError
from tests.fakes import FakeOpenAI, delay, error, ok

KEY = "sk-test-AUDIOkey0123456789abcdef"
AUDIO = b"ID3\x03\x00\x00\x00" + b"\x00fake mp3 frames" * 64


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def provider_settings(fake):
    with override_settings(
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_TRANSCRIBE_MODEL="fake-whisper",
        PROVIDER_TIMEOUT=2.0,
        OPENAI_RPM=100_000,
        CELERY_BROKER_URL="memory://",
    ):
        ratelimit.reset_memory()
        yield
        ratelimit.reset_memory()


def test_it_uploads_the_file_and_returns_the_text(fake):
    text = transcribe_audio(io.BytesIO(AUDIO), filename="lecture.mp3").text

    assert text == FakeOpenAI.transcription_text
    (request,) = fake.calls("transcription")
    assert request.path == "/v1/audio/transcriptions"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.form["model"] == "fake-whisper"
    assert request.files["file"] == ("lecture.mp3", len(AUDIO))
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_it_uploads_the_whole_file_wherever_its_position_was(fake):
    stream = io.BytesIO(AUDIO)
    stream.seek(100)
    transcribe_audio(stream, filename="a.wav")
    assert fake.calls("transcription")[0].files["file"] == ("a.wav", len(AUDIO))


def test_a_scripted_transcript_is_returned_stripped(fake):
    fake.script("transcription", [ok(data="  Hello students.  ")])
    assert transcribe_audio(io.BytesIO(AUDIO), filename="a.m4a").text == "Hello students."


def test_without_a_key_it_asks_for_one(fake):
    with override_settings(OPENAI_API_KEY=""), pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert "audio needs a transcription provider" in caught.value.message
    assert "OPENAI_API_KEY" in caught.value.message
    assert not caught.value.transient
    assert fake.count() == 0


class _Sized(io.RawIOBase):
    """A non-seekable upload that knows its size (like a Django File)."""

    size = MAX_AUDIO_BYTES + 1

    def readable(self) -> bool:
        return True

    def seek(self, *args):
        raise OSError("not seekable")


class _Unseekable(io.RawIOBase):
    def __init__(self, total: int) -> None:
        self.left = total

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"\0" * n
        self.left -= n
        return n


@pytest.mark.parametrize(
    "make",
    [
        lambda: _Sized(),
        lambda: io.BytesIO(b"\0" * (MAX_AUDIO_BYTES + 1)),
        lambda: io.BufferedReader(_Unseekable(MAX_AUDIO_BYTES + 10)),
    ],
    ids=["size attribute", "seekable", "stream"],
)
def test_files_over_25_mb_are_refused(fake, make):
    with pytest.raises(ExtractionError) as caught:
        transcribe_audio(make(), filename="long.mp3")
    assert caught.value.message == "audio files over 25 MB are not supported; split it"
    assert not caught.value.transient
    assert fake.count() == 0


def test_a_file_of_exactly_25_mb_is_accepted(fake):
    transcribe_audio(io.BytesIO(b"\0" * MAX_AUDIO_BYTES), filename="big.mp3")
    assert fake.calls("transcription")[0].files["file"][1] == MAX_AUDIO_BYTES


def test_an_empty_file_is_refused(fake):
    with pytest.raises(ExtractionError, match="empty"):
        transcribe_audio(io.BytesIO(b""), filename="a.mp3")


@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (500, True), (503, True), (400, False), (401, False)]
)
def test_errors_are_mapped_to_transient_or_permanent(fake, status, transient):
    fake.script("transcription", [error(status, message=f"failure with {KEY}")])
    with pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert caught.value.transient is transient
    assert f"HTTP {status}" in caught.value.message
    assert KEY not in caught.value.message
    assert caught.value.__cause__ is None


def test_a_timeout_is_transient(fake):
    fake.script("transcription", [delay(1.5)])
    with override_settings(OPENAI_TRANSCRIBE_TIMEOUT=0.5), pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert caught.value.transient
    assert "in time" in caught.value.message


def test_silence_is_a_permanent_error(fake):
    fake.script("transcription", [ok(data="   ")])
    with pytest.raises(ExtractionError, match="no speech") as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert not caught.value.transient
