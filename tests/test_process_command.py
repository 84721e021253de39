"""`manage.py process` on the embedded default, as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE"}
    }
    env["STUDYNAUT_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "manage.py", "process", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("sample", ["lecture.md", "lecture.pdf", "lecture.vtt"])
def test_process_runs_a_sample_end_to_end_on_the_embedded_default(tmp_path, sample):
    out = tmp_path / "note.md"

    result = run_process(tmp_path, str(ROOT / "samples" / sample), "--out", str(out))

    assert result.returncode == 0, result.stderr + result.stdout
    assert "Writing the lesson structure" in result.stdout
    assert "Writing quiz and flashcards" in result.stdout
    assert (tmp_path / "data" / "db.sqlite3").exists()  # SQLite, not the test database
    note = out.read_text()
    assert note.startswith("# ")
    assert "[VISUAL::" not in note
    assert "## Quiz" in note
    assert "## Flashcards" in note
    assert "*Answer:" in note
    images = list((tmp_path / "note_images").glob("*.svg"))
    assert images, "the generated images are written beside the note"
    assert all(f"note_images/{image.name}" in note for image in images)
    assert "<svg" in images[0].read_text()


def test_process_reports_a_failed_source_with_its_reason(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not really a pdf")

    result = run_process(tmp_path, str(broken))

    assert result.returncode != 0
    assert "FAILED in EXTRACTING_TEXT" in result.stderr
    assert "Traceback" not in result.stderr


def test_process_refuses_a_missing_file(tmp_path):
    result = run_process(tmp_path, str(tmp_path / "nope.pdf"))

    assert result.returncode != 0
    assert "No such file" in result.stderr
