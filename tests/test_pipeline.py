"""The whole pipeline on a real worker, real Redis and real PostgreSQL, with
the offline providers (local AI, generated images)."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline.models import JobRecord

from .pipeline_helpers import submit, wait_until_final

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
pytestmark = pytest.mark.usefixtures("offline")


def lecture_text() -> str:
    return (SAMPLES / "lecture.md").read_text()


def assert_complete_study_kit(source: Source) -> Note:
    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.processing_stage is None
    assert source.error_message == ""
    note = Note.objects.get(source=source)
    assert "[VISUAL::" not in note.markdown_content
    assert "[VISUAL::" not in note.html_content
    assert note.quiz_questions.count() >= 5
    assert note.flashcards.count() >= 5
    visuals = list(source.visuals.all())
    assert visuals, "the local AI places at least one visual in a lecture"
    for visual in visuals:
        assert visual.status == Visual.Status.COMPLETED
        assert visual.image_url.startswith(("http://", "https://"))
        assert visual.image_url in note.markdown_content
    return note


def test_a_text_source_becomes_a_note_with_images_quiz_and_flashcards(celery_worker, user):
    source = submit(user, kind=Source.Kind.TEXT, input_text=lecture_text())

    source = wait_until_final(source)

    note = assert_complete_study_kit(source)
    assert "<img" in note.html_content
    assert note.title
    assert source.title == note.title  # no title given: the AI's is used
    job_types = set(JobRecord.objects.filter(source=source).values_list("job_type", flat=True))
    assert job_types == {
        "PROCESS_SOURCE_TEXT",
        "PROCESS_VISUAL_PLACEHOLDERS",
        "GENERATE_VISUAL",
        "ASSEMBLE_NOTE",
        "GENERATE_STUDY_TOOLS",
    }
    assert not JobRecord.objects.filter(source=source).exclude(state=JobRecord.State.SUCCESS).exists()
    assert JobRecord.objects.filter(job_type="GENERATE_VISUAL", source=source).count() == (
        source.visuals.count()
    )


def test_a_given_title_stays_the_sources_title(celery_worker, user):
    source = submit(user, kind=Source.Kind.TEXT, input_text=lecture_text(), title="My own title")

    source = wait_until_final(source)

    assert source.title == "My own title"
    assert source.note.title != "My own title"


def test_a_caption_file_becomes_a_note(celery_worker, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    captions = (SAMPLES / "lecture.vtt").read_bytes()
    source = submit(
        user,
        kind=Source.Kind.CAPTIONS,
        file=SimpleUploadedFile("talk.vtt", captions),
        original_filename="talk.vtt",
    )

    source = wait_until_final(source)

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert "-->" not in source.extracted_text
    assert "WEBVTT" not in source.extracted_text
    note = Note.objects.get(source=source)
    assert "[VISUAL::" not in note.markdown_content
    assert note.quiz_questions.exists()
    assert note.flashcards.exists()
    assert JobRecord.objects.filter(source=source, job_type="EXTRACT_SOURCE_TEXT").exists()


def test_a_pdf_becomes_a_note_with_its_text(celery_worker, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    pdf = (SAMPLES / "lecture.pdf").read_bytes()
    source = submit(
        user,
        kind=Source.Kind.PDF,
        file=SimpleUploadedFile("lecture.pdf", pdf),
        original_filename="lecture.pdf",
    )

    source = wait_until_final(source)

    assert_complete_study_kit(source)
    last_words = " ".join(lecture_text().split()[-4:]).strip("*_.")
    assert last_words.split()[-1].strip(".") in source.extracted_text


def test_an_unreadable_pdf_fails_in_extraction_with_a_readable_reason(
    celery_worker, user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    source = submit(
        user,
        kind=Source.Kind.PDF,
        file=SimpleUploadedFile("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20),
        original_filename="broken.pdf",
    )

    source = wait_until_final(source)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.EXTRACTING_TEXT
    assert "PDF" in source.error_message
    assert "Traceback" not in source.error_message
    assert not Note.objects.filter(source=source).exists()


def test_an_encrypted_pdf_fails_with_a_password_message(celery_worker, user, settings, tmp_path):
    from pypdf import PdfReader, PdfWriter

    settings.MEDIA_ROOT = tmp_path
    writer = PdfWriter()
    writer.append(PdfReader(SAMPLES / "lecture.pdf"))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    source = submit(
        user,
        kind=Source.Kind.PDF,
        file=SimpleUploadedFile("locked.pdf", buffer.getvalue()),
        original_filename="x",
    )

    source = wait_until_final(source)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.EXTRACTING_TEXT
    assert "password" in source.error_message.lower()


@pytest.mark.parametrize("text", ["<script>alert(1)</script> <img src=x onerror=alert(2)>"])
def test_hostile_markup_in_a_source_comes_out_harmless(celery_worker, user, text):
    body = lecture_text() + "\n\n" + text + "\n\n[click](javascript:alert(3))\n"
    source = submit(user, kind=Source.Kind.TEXT, input_text=body)

    source = wait_until_final(source)

    html = source.note.html_content.lower()
    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_running_the_whole_pipeline_again_creates_no_duplicates(celery_worker, user):
    from pipeline.canvas import enqueue

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=lecture_text()))
    counts = (source.visuals.count(), QuizQuestion.objects.count(), Flashcard.objects.count())
    note_id = source.note.pk

    # A redelivery of the whole chain (say, every message delivered twice).
    Source.objects.filter(pk=source.pk).update(processing_status=Source.Status.PROCESSING)
    enqueue(source)
    source = wait_until_final(source)

    assert source.processing_status == Source.Status.COMPLETED
    assert Note.objects.filter(source=source).count() == 1
    assert source.note.pk == note_id
    assert (source.visuals.count(), QuizQuestion.objects.count(), Flashcard.objects.count()) == counts
