"""A note's flashcards as a CSV file or an Anki package."""

import csv
import hashlib
import html
import io
import itertools
import os
import sqlite3
import tempfile
import time
import zipfile
from typing import IO

import genanki

from .models import Flashcard, Note

# A spreadsheet treats a cell that starts with one of these as a formula
# (CSV injection); a leading quote makes it plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _anki_id(*parts: object) -> int:
    """A stable id in the range Anki expects (between 2**30 and 2**31)."""
    digest = hashlib.sha256("::".join(str(part) for part in parts).encode()).digest()
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


# One note type for every Studynaut deck: Anki keeps note types across
# imports, so a type per note would pile up in the user's collection.
ANKI_MODEL = genanki.Model(
    _anki_id("studynaut", "model", "basic"),
    "Studynaut (front/back)",
    fields=[{"name": "Front"}, {"name": "Back"}],
    templates=[
        {
            "name": "Card 1",
            "qfmt": "{{Front}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Back}}',
        }
    ],
)


def csv_safe(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def flashcards_csv(cards: list[Flashcard]) -> str:
    """`front,back` with a header row; cells that a spreadsheet would run as
    a formula are prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["front", "back"])
    for card in cards:
        writer.writerow([csv_safe(card.front), csv_safe(card.back)])
    return buffer.getvalue()


def _anki_field(text: str) -> str:
    # Anki renders fields as HTML (scripts included): the card text is text.
    return html.escape(text).replace("\n", "<br>")


def anki_deck(note: Note, cards: list[Flashcard]) -> genanki.Deck:
    """The deck of one note. Its id and the cards' guids derive from the note
    id, so importing the same note again updates the deck instead of adding
    a second one."""
    deck = genanki.Deck(_anki_id("studynaut", "deck", note.pk), note.title or f"Studynaut note {note.pk}")
    for card in cards:
        deck.add_note(
            genanki.Note(
                model=ANKI_MODEL,
                fields=[_anki_field(card.front), _anki_field(card.back)],
                guid=genanki.guid_for("studynaut", note.pk, card.position),
            )
        )
    return deck


def write_anki_package(deck: genanki.Deck, out: IO[bytes]) -> None:
    """Write the .apkg into an open binary file.

    genanki's Package.write_to_file leaves its temporary SQLite database
    behind on every call; this does the same steps and removes it.
    """
    package = genanki.Package(deck)
    timestamp = time.time()
    handle, db_path = tempfile.mkstemp(suffix=".anki2")
    os.close(handle)
    try:
        connection = sqlite3.connect(db_path)
        try:
            package.write_to_db(connection.cursor(), timestamp, itertools.count(int(timestamp * 1000)))
            connection.commit()
        finally:
            connection.close()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(db_path, "collection.anki2")
            archive.writestr("media", "{}")
    finally:
        os.unlink(db_path)


def flashcards_apkg(note: Note, cards: list[Flashcard]) -> IO[bytes]:
    """The Anki package in an anonymous temporary file (gone once closed),
    positioned at its start, for streaming."""
    # Handed to the response, which closes it once streamed.
    out = tempfile.TemporaryFile(suffix=".apkg")  # noqa: SIM115
    try:
        write_anki_package(anki_deck(note, cards), out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
