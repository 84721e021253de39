"""`manage.py process`, as a user runs it.

The runs of the pipeline go through a subprocess on the embedded default
(SQLite, an in-memory broker, a worker in the command), exactly as
`scripts/demo` runs it. What the command refuses before creating anything is
driven in-process with call_command.
"""

import io
import os
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from api.uploads import CONTENT_CHECKS
from notes.models import Source

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def run_process(tmp_path: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "OPENAI_API_KEY",
        }
    }
    env["STUDYNAUT_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "process", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document>Photosynthesis is ...</w:document>")
    return buffer.getvalue()


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(bytes(1600))
    return buffer.getvalue()


# --- runs of the pipeline ------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["lecture.md", "lecture.pdf", "lecture.vtt"])
def test_process_runs_a_sample_end_to_end_on_the_embedded_default(tmp_path, sample):
    out = tmp_path / "note.md"

    result = run_process(tmp_path, str(SAMPLES / sample), "--out", str(out))

    assert result.returncode == 0, result.stderr + result.stdout
    assert "Writing the lesson structure" in result.stdout
    assert "Writing quiz and flashcards" in result.stdout
    assert f"Written to {out}" in result.stdout
    assert (tmp_path / "data" / "db.sqlite3").exists()  # SQLite, not the test database
    # A first run in a new data folder: no system-check warning about a key
    # the command keeps itself, and no log lines between the progress lines.
    assert result.stderr == ""
    note = out.read_text()
    assert note.startswith("# ")
    assert "[VISUAL::" not in note
    assert "## Quiz" in note
    assert "## Flashcards" in note
    assert "*Answer:" in note
    images = list((tmp_path / "images").glob("*.svg"))
    assert images, "the generated images are written beside the note"
    assert all(f"images/{image.name}" in note for image in images)
    assert "<svg" in images[0].read_text()


def test_each_run_writes_a_new_note_named_after_its_source(tmp_path):
    lecture = str(SAMPLES / "lecture.md")

    first = run_process(tmp_path, lecture, cwd=tmp_path)
    (tmp_path / "out" / "lecture.md").write_text("my own edits\n")
    second = run_process(tmp_path, lecture, cwd=tmp_path)
    titled = run_process(tmp_path, lecture, "--title", "Vaccines: week 3!", "--out", "notes/", cwd=tmp_path)

    for result in (first, second, titled):
        assert result.returncode == 0, result.stderr + result.stdout
    assert "Written to out/lecture.md" in first.stdout
    assert "Written to out/lecture-2.md" in second.stdout
    assert "Written to notes/vaccines-week-3.md" in titled.stdout
    assert (tmp_path / "out" / "lecture.md").read_text() == "my own edits\n"
    assert (tmp_path / "out" / "lecture-2.md").read_text().startswith("# ")
    assert (tmp_path / "notes" / "vaccines-week-3.md").read_text().startswith("# ")


def test_a_given_note_file_is_not_overwritten_and_unused_images_are_removed(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "note.md").write_text("# Older note\n\n![x](images/visual-111111111111.svg)\n")
    (images / "visual-111111111111.svg").write_text("<svg/>")  # the older note's
    (images / "visual-000000000000.svg").write_text("<svg/>")  # no note's any more
    (images / "diagram.png").write_bytes(PNG)  # the user's own file

    result = run_process(tmp_path, str(SAMPLES / "lecture.md"), "--out", str(tmp_path / "note.md"))

    assert result.returncode == 0, result.stderr + result.stdout
    assert f"Written to {tmp_path / 'note-2.md'}" in result.stdout
    assert (tmp_path / "note.md").read_text().startswith("# Older note")
    note = (tmp_path / "note-2.md").read_text()
    left = {image.name for image in images.iterdir()}
    assert "visual-000000000000.svg" not in left
    assert {"visual-111111111111.svg", "diagram.png"} <= left
    new_images = left - {"visual-111111111111.svg", "diagram.png"}
    assert new_images and all(f"images/{name}" in note for name in new_images)


def test_a_pipeline_failure_is_said_once_in_words_without_log_lines(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not really a pdf")

    result = run_process(tmp_path, str(broken))
    verbose = run_process(tmp_path, str(broken), "-v", "2")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: Source #1 failed while extracting text: "
        "The file is not a readable PDF (it may be damaged or not a PDF at all)."
    ]
    assert "task=" not in result.stdout
    assert "Traceback" not in result.stderr
    # Asked for, the worker's log lines are there, with their task ids.
    assert verbose.returncode != 0
    assert "task=pipeline.extract_source_text" in verbose.stderr


def test_audio_without_a_transcription_key_is_refused_before_anything_runs(tmp_path):
    recording = tmp_path / "talk.wav"
    recording.write_bytes(wav_bytes())

    result = run_process(tmp_path, str(recording))

    assert result.returncode != 0
    assert "set OPENAI_API_KEY" in result.stderr
    assert "created" not in result.stdout


# --- what is refused before a source is created ------------------------------------------


def refusal(*args: str) -> str:
    with pytest.raises(CommandError) as raised:
        call_command("process", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not Source.objects.exists()
    return str(raised.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "shown"),
    [
        ("notes.docx", docx_bytes(), "a docx file"),
        ("diagram.png", PNG, "a png file (image/png)"),
        ("dump.bin", bytes(range(256)) * 4, "binary data"),
        ("lecture.pdf", (SAMPLES / "lecture.pdf").read_bytes(), "a pdf file"),
    ],
)
def test_a_binary_file_given_as_text_is_refused(tmp_path, name, content, shown):
    path = tmp_path / name
    path.write_bytes(content)

    message = refusal(str(path), "--kind", "TEXT")

    assert f"{path} is not a text file: its bytes are {shown}" in message
    assert "Save a document as PDF or plain text first" in message


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["notes.docx", "slides.pptx", "README"])
def test_a_file_of_an_unknown_type_is_refused_with_the_supported_types(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(docx_bytes())

    message = refusal(str(path))

    assert f"Cannot process {path}" in message
    for shown in (".txt", ".md", ".pdf", ".vtt", ".srt", ".mp3", ".wav", "YouTube URL", "--kind"):
        assert shown in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("lecture.pdf", PNG, Source.Kind.PDF),
        ("talk.mp3", b"just some text, not a recording\n", Source.Kind.AUDIO),
        ("captions.vtt", b"no header, no timings\n", Source.Kind.CAPTIONS),
    ],
)
def test_a_file_whose_bytes_are_not_of_its_kind_gets_the_apis_message(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)

    message = refusal(str(path))

    assert message == f"{path}: {CONTENT_CHECKS[kind][1]}"


@pytest.mark.django_db
def test_a_file_over_the_upload_limit_gets_the_apis_message(tmp_path, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    path = tmp_path / "lecture.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(2000))

    message = refusal(str(path))

    assert message == f"{path}: The file has 2,009 bytes, above the limit of 1,024 bytes for PDF sources."


@pytest.mark.django_db
def test_a_text_over_the_limit_gets_the_apis_message(tmp_path, settings):
    settings.MAX_TEXT_CHARS = 100
    path = tmp_path / "lecture.txt"
    path.write_text("word " * 30)

    message = refusal(str(path))

    assert message == "text: The text has 149 characters, above the limit of 100."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["https://vimeo.com/12345"], "url: Not a YouTube video link"),
        (["nope.pdf"], "No such file: nope.pdf"),
        (["."], ". is a folder"),
    ],
)
def test_other_inputs_that_cannot_be_a_source_are_refused(args, shown):
    assert shown in refusal(*args)


@pytest.mark.django_db
def test_an_empty_text_file_is_refused(tmp_path):
    path = tmp_path / "empty.md"
    path.write_text("\n  \n")

    assert refusal(str(path)) == f"{path} has no text."


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("lecture", "lecture"),
        ("La révolution industrielle", "la-revolution-industrielle"),
        ("Week 3: Hash tables (part 2/3)", "week-3-hash-tables-part-23"),
        ("光合作用", "光合作用"),
        ("../../etc/passwd", "etcpasswd"),
        ("?!", "note"),
        ("x" * 200, "x" * 80),
    ],
)
def test_a_note_is_named_by_a_safe_slug_of_its_source(name, slug):
    from api.management.commands.process import note_slug

    assert note_slug(name) == slug


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Photosynthèse et café\n".encode(), "Photosynthèse et café\n"),
        ("\ufeffWith a BOM\n".encode(), "With a BOM\n"),
        ("Ünïcode in UTF-16\n".encode("utf-16"), "Ünïcode in UTF-16\n"),
        ("Windows café\r\n".encode("latin-1"), "Windows café\r\n"),
        (b"tabs\tand\x0cform feeds\n", "tabs\tand\x0cform feeds\n"),
        (b"a NUL\x00 is not text", None),
        ("no BOM, UTF-16".encode("utf-16-le"), None),
    ],
)
def test_a_text_file_is_decoded_as_the_captions_extractor_does_and_binary_is_not_text(raw, text):
    from api.management.commands.process import decode_text_file

    assert decode_text_file(raw) == text
