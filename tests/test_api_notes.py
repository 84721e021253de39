"""GET /api/notes/, /api/notes/{id}/ and the flashcard exports."""

import csv
import io
import sqlite3
import tempfile
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notes.exports import csv_safe
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import make_note, make_source

pytestmark = pytest.mark.django_db

NOTES = "/api/notes/"


def note_url(note, suffix: str = "") -> str:
    return f"/api/notes/{note.pk}/{suffix}"


def read_apkg(content: bytes, tmp_path) -> dict:
    """The notes and decks inside an .apkg (a zip holding a SQLite file)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert set(archive.namelist()) == {"collection.anki2", "media"}
        database = tmp_path / "collection.anki2"
        database.write_bytes(archive.read("collection.anki2"))
    db = sqlite3.connect(database)
    try:
        fields = [row[0].split("\x1f") for row in db.execute("SELECT flds FROM notes ORDER BY id")]
        decks = db.execute("SELECT decks FROM col").fetchone()[0]
        guids = [row[0] for row in db.execute("SELECT guid FROM notes ORDER BY id")]
    finally:
        db.close()
    return {"fields": fields, "decks": decks, "guids": guids}


# --- List and detail -------------------------------------------------------------------


def test_the_note_list_shows_only_my_notes_newest_first(api, user, other_user):
    first = make_note(make_source(user, title="one"))
    second = make_note(make_source(user, title="two"))
    make_note(make_source(other_user, title="theirs"))

    response = api.get(NOTES)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [item["id"] for item in body["results"]] == [second.pk, first.pk]


def test_a_note_has_its_content_quiz_and_flashcards(api, user):
    source = make_source(user)
    note = make_note(source, cards=[("Front 1", "Back 1"), ("Front 2", "Back 2")], questions=1)

    response = api.get(note_url(note))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == note.pk
    assert body["source"] == source.pk
    assert body["title"] == note.title
    assert body["markdown_content"] == note.markdown_content
    assert body["html_content"] == note.html_content
    assert body["quiz"] == [
        {
            "question": "Question 0?",
            "options": ["light", "water", "soil"],
            "answer_index": 0,
            "explanation": "Light drives it.",
        }
    ]
    assert body["flashcards"] == [
        {"front": "Front 1", "back": "Back 1"},
        {"front": "Front 2", "back": "Back 2"},
    ]


def test_another_users_note_is_404(api, other_user):
    note = make_note(make_source(other_user))

    response = api.get(note_url(note))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_the_note_list_runs_the_same_number_of_queries_for_many_notes(api, user):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(NOTES).status_code == 200
        return len(queries)

    make_note(make_source(user))
    few = queries_for_list()
    for _ in range(5):
        make_note(make_source(user), cards=[("a", "b")] * 4, questions=4)

    assert queries_for_list() == few


# --- CSV export ---------------------------------------------------------------------------


def test_flashcards_export_as_csv_with_a_header(api, user):
    note = make_note(make_source(user), cards=[("What, exactly?", 'A "quoted"\nanswer'), ("Q2", "A2")])

    response = api.get(note_url(note, "flashcards.csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="note-{note.pk}-flashcards.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["front", "back"], ["What, exactly?", 'A "quoted"\nanswer'], ["Q2", "A2"]]


def test_csv_cells_that_look_like_formulas_are_quoted(api, user):
    note = make_note(
        make_source(user),
        cards=[
            ("=HYPERLINK('http://evil.example','x')", "+1"),
            ("-2+3", "@SUM(A1)"),
            ("\t=tab", "plain"),
        ],
    )

    response = api.get(note_url(note, "flashcards.csv"))

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1:] == [
        ["'=HYPERLINK('http://evil.example','x')", "'+1"],
        ["'-2+3", "'@SUM(A1)"],
        ["'\t=tab", "plain"],
    ]


@pytest.mark.parametrize(("value", "safe"), [("=1", "'=1"), ("a=1", "a=1"), ("", ""), ("1-2", "1-2")])
def test_csv_safe_only_touches_leading_formula_characters(value, safe):
    assert csv_safe(value) == safe


def test_a_note_without_flashcards_exports_only_the_header(api, user):
    note = make_note(make_source(user), cards=[])

    response = api.get(note_url(note, "flashcards.csv"))

    assert response.content.decode().splitlines() == ["front,back"]


def test_another_users_csv_export_is_404(api, other_user):
    note = make_note(make_source(other_user))

    response = api.get(note_url(note, "flashcards.csv"))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_the_csv_export_ignores_the_accept_header(api, user, other_user):
    mine = make_note(make_source(user))
    theirs = make_note(make_source(other_user))

    assert api.get(note_url(mine, "flashcards.csv"), HTTP_ACCEPT="text/csv").status_code == 200
    missing = api.get(note_url(theirs, "flashcards.csv"), HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No Note matches the given query."}


# --- Anki export ------------------------------------------------------------------------------


def test_flashcards_export_as_an_anki_package(api, user, tmp_path):
    note = make_note(make_source(user), cards=[("Front <b>1</b>", "Back\nline"), ("Front 2", "Back 2")])

    response = api.get(note_url(note, "flashcards.apkg"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert f'filename="note-{note.pk}-flashcards.apkg"' in response["Content-Disposition"]
    package = read_apkg(b"".join(response.streaming_content), tmp_path)
    assert package["fields"] == [["Front &lt;b&gt;1&lt;/b&gt;", "Back<br>line"], ["Front 2", "Back 2"]]
    assert note.title in package["decks"]


def test_the_anki_deck_and_cards_keep_their_ids_across_exports(api, user, tmp_path):
    note = make_note(make_source(user))

    first = read_apkg(b"".join(api.get(note_url(note, "flashcards.apkg")).streaming_content), tmp_path)
    second = read_apkg(b"".join(api.get(note_url(note, "flashcards.apkg")).streaming_content), tmp_path)

    assert first["guids"] == second["guids"]
    assert first["decks"] == second["decks"]


def test_the_anki_export_leaves_no_temporary_files(api, user, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    note = make_note(make_source(user))

    response = api.get(note_url(note, "flashcards.apkg"))
    b"".join(response.streaming_content)
    response.close()

    assert list(scratch.iterdir()) == []


def test_another_users_anki_export_is_404(api, other_user):
    note = make_note(make_source(other_user))

    response = api.get(note_url(note, "flashcards.apkg"))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
