"""An AUDIO source longer than the provider's upload limit, through the whole
pipeline on a real worker: the upload is read from Django storage, cut,
transcribed in parts by FakeOpenAI and joined, with its seconds kept."""

import tempfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from notes.models import Note, Source
from pipeline.extractors.base import Extracted
from pipeline.models import JobRecord
from tests.fakes import TONE_WORDS, FakeOpenAI, tone_audio, transcribe_tones

from .pipeline_helpers import submit, wait_until_final

pytestmark = pytest.mark.usefixtures("offline")
WORDS = list(TONE_WORDS[:20])


@pytest.fixture
def transcriber():
    with (
        FakeOpenAI() as fake,
        override_settings(
            OPENAI_API_KEY="sk-test-PIPELINEkey0123456789",
            OPENAI_BASE_URL=fake.base_url,
            OPENAI_RPM=100_000,
            OPENAI_TRANSCRIBE_MAX_BYTES=100_000,
            AUDIO_SEGMENT_SECONDS=8,
            AUDIO_SEGMENT_OVERLAP_SECONDS=2,
        ),
    ):
        fake.set_default("transcription", transcribe_tones())
        yield fake


def test_a_long_audio_source_is_transcribed_in_parts_and_becomes_a_note(
    celery_worker, user, settings, tmp_path, transcriber, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    source = submit(
        user,
        kind=Source.Kind.AUDIO,
        file=SimpleUploadedFile("lecture.wav", tone_audio(WORDS)),
        original_filename="lecture.wav",
    )

    source = wait_until_final(source)

    # Twenty tone words are too few for the offline quiz: the note is what counts here.
    assert source.processing_status in (Source.Status.COMPLETED, Source.Status.COMPLETED_WITH_ERRORS)
    assert source.processing_stage is None, source.error_message
    assert transcriber.count("transcription") == 3
    # One task per part, in parallel, then the join.
    records = JobRecord.objects.filter(source=source)
    assert records.filter(job_type="TRANSCRIBE_AUDIO_SEGMENT", state=JobRecord.State.SUCCESS).count() == 3
    assert records.filter(job_type="JOIN_TRANSCRIPT", state=JobRecord.State.SUCCESS).count() == 1
    assert not default_storage.listdir(f"audio-parts/{source.pk}")[1]  # the kept parts are gone
    assert source.extracted_text.split() == WORDS
    extracted = Extracted.from_stored(source.extracted_text, source.text_map)
    assert [(a.seconds, extracted.text[a.offset :].split()[0]) for a in extracted.anchors] == [
        (float(second), word) for second, word in enumerate(WORDS)
    ]
    assert Note.objects.filter(source=source).exists()
    assert list(scratch.iterdir()) == []
