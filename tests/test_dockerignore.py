"""The image is built from this folder minus .dockerignore: it never carries
the local settings (.env), the generated secret key, the SQLite database,
uploads, the git history or the virtualenv, and it carries all the code.

The patterns are read as Docker reads them (moby's patternmatcher): paths
relative to the build context, `*` and `?` within a path segment, `**`
across segments, a match of a parent directory excludes what is inside it,
and the last matching pattern wins (`!` includes again)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pattern_regex(pattern: str) -> re.Pattern:
    pattern = pattern.strip().strip("/")
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        parts.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        index += 1
    return re.compile("".join(parts))


def rules() -> list[tuple[bool, re.Pattern]]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    found = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        found.append((include, pattern_regex(line.removeprefix("!"))))
    return found


def excluded(path: str) -> bool:
    parents = [path] + ["/".join(path.split("/")[:end]) for end in range(1, path.count("/") + 1)]
    verdict = False
    for include, regex in rules():
        if any(regex.fullmatch(candidate) for candidate in parents):
            verdict = not include
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "data/.secret_key",
        "data/db.sqlite3",
        "data/media/uploads/0123.pdf",
        "db.sqlite3",
        "notes/db.sqlite3",
        "studynaut/.secret_key",
        ".git/config",
        ".git/objects/ab/cdef",
        ".venv/bin/python",
        ".venv/lib/python3.11/site-packages/django/__init__.py",
        "api/__pycache__/views.cpython-311.pyc",
        "out/lecture.md",
        "media/uploads/x.pdf",
        "celerybeat-schedule",
    ],
)
def test_secrets_local_data_and_history_stay_out_of_the_image(path):
    assert excluded(path)


@pytest.mark.parametrize(
    "path",
    [
        "manage.py",
        "requirements.txt",
        "studynaut/settings.py",
        "api/views.py",
        "pipeline/migrations/0001_initial.py",
        "scripts/flower",
        "samples/lecture.md",
        ".env.example",
    ],
)
def test_the_code_goes_into_the_image(path):
    assert not excluded(path)


def test_every_tracked_file_but_the_tools_goes_into_the_image():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    left_out = [path for path in tracked if excluded(path)]

    assert all(path.startswith((".ci/", ".gitignore")) for path in left_out), left_out
    assert len(tracked) > 50


def test_the_image_keeps_its_data_in_the_volume():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "STUDYNAUT_DATA_DIR=/data" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.MULTILINE)
