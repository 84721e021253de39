"""Every parser that sees user text runs in linear time.

Each test feeds inputs of the largest allowed size built to make a
backtracking pattern rescan its input (a 5 MB line of ``<a``, a run of blanks
without a newline, ...) and compares the time with an ordinary input of the
same size measured in the same test: a quadratic pattern takes minutes or
hours on these, a linear one about as long as the ordinary input. The bound
is generous (ten times the ordinary input, plus a margin) so that a busy
machine slows both alike and never fails the test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from pipeline.extractors.base import ExtractionError
from pipeline.extractors.captions import captions_to_text
from pipeline.extractors.pdf import clean_page_text
from pipeline.extractors.pdf_layout import excluded_lines
from pipeline.extractors.text import normalize_text
from pipeline.extractors.titles import title_from_filename, title_from_metadata
from pipeline.providers.diagram import concept_map, render_svg
from pipeline.providers.offline_images import localize_generated_links

CAPTIONS_BYTES = 5 * 1024 * 1024  # the upload limit of caption files
TEXT_CHARS = 200_000  # MAX_TEXT_CHARS
FACTOR = 10
MARGIN_SECONDS = 1.0


def _elapsed(function: Callable, argument) -> float:
    started = time.perf_counter()
    function(argument)
    return time.perf_counter() - started


def assert_linear(function: Callable, ordinary, pathological: dict) -> None:
    baseline = min(_elapsed(function, ordinary) for _ in range(2))
    bound = FACTOR * baseline + MARGIN_SECONDS
    slow = {}
    for name, argument in pathological.items():
        elapsed = _elapsed(function, argument)
        if elapsed > bound:
            slow[name] = round(elapsed, 2)
    assert not slow, f"slower than {bound:.2f} s (ordinary input: {baseline:.3f} s): {slow}"


def _fit(text: str, size: int) -> str:
    return (text * (size // max(1, len(text)) + 1))[:size]


# --- captions -----------------------------------------------------------------------


def _captions(raw: bytes) -> None:
    with contextlib.suppress(ExtractionError):  # "no text" is an answer too: only the time matters
        captions_to_text(raw, filename="lecture.vtt")


def _one_cue(payload: str) -> bytes:
    head = "WEBVTT - title\n\n00:00:00.000 --> 00:00:05.000\n"
    return (head + _fit(payload, CAPTIONS_BYTES - len(head))).encode()


def _ordinary_captions() -> bytes:
    cues = []
    for n in range(CAPTIONS_BYTES // 60):
        stamp = f"{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
        cues.append(f"{stamp}.000 --> {stamp}.900\nThe cell {n} makes <b>proteins</b> from amino acids.\n\n")
    return ("WEBVTT\n\n" + "".join(cues))[:CAPTIONS_BYTES].encode()


def test_caption_parsing_is_linear_on_hostile_files():
    assert_linear(
        _captions,
        _ordinary_captions(),
        {
            "unclosed tags": _one_cue("<a"),
            "unclosed ASS overrides": _one_cue("{\\"),
            "unclosed voice tags": _one_cue("<v."),
            "timestamps tags": _one_cue("<00:00:01.000"),
            "unclosed brackets": _one_cue("[a"),
            "unclosed parentheses": _one_cue("(a"),
            "music notes": _one_cue("\u266aa"),
            "a line of blanks": _one_cue("x" + " " * CAPTIONS_BYTES),
            "tabs and blanks": _one_cue("x \t"),
            "chevrons": _one_cue(">>"),
            "labels": _one_cue("AB: "),
            "colons": _one_cue(":"),
            "one long word": _one_cue("a"),
            "words": _one_cue("word "),
            "digits": _one_cue("1"),
            "dots": _one_cue("."),
            "dots and quotes": _one_cue(".'"),
            "arrows": _one_cue("-->"),
            "entities": _one_cue("&amp"),
            "advertisement words": _one_cue("subtitles "),
            "blank lines": _one_cue("x\n \n"),
            "empty lines": b"WEBVTT\n" + b"\n" * CAPTIONS_BYTES,
            "a timing line": ("WEBVTT\n\n00:00:00.000 --> " + "0" * CAPTIONS_BYTES).encode(),
            "many timings": _fit("00:00:00.000 --> 00:00:01.000\n", CAPTIONS_BYTES).encode(),
            "srt indices": ("1\n00:00:00,000 --> 00:00:01,000\nx\n" + "1\n" * (CAPTIONS_BYTES // 2)).encode(),
        },
    )


# --- pasted text and PDF text ----------------------------------------------------------


def _ordinary_text() -> str:
    return _fit("Cells make proteins from amino acids.\nRibosomes read the messenger RNA.\n\n", TEXT_CHARS)


TEXT_CASES = {
    "a run of blanks": "x" + " " * TEXT_CHARS,
    "blanks and tabs": _fit(" \t", TEXT_CHARS) + "x",
    "blank lines": _fit("\n", TEXT_CHARS),
    "lines of blanks": _fit(" \n", TEXT_CHARS),
    "blanks before a newline": _fit(" " * 1000 + "\n", TEXT_CHARS),
    "carriage returns": _fit("\r \r\n", TEXT_CHARS),
    "controls": _fit("\x00\x07 ", TEXT_CHARS),
    "hyphen line ends": _fit("a-\n", TEXT_CHARS),
    "hyphens and blanks": "a-\n" + " " * TEXT_CHARS,
    "soft hyphens": _fit("\u00ad\n", TEXT_CHARS),
    "ligatures": _fit("\ufb01", TEXT_CHARS),
    "one long line": "a" * TEXT_CHARS,
}


def test_text_normalisation_is_linear_on_hostile_text():
    assert_linear(normalize_text, _ordinary_text(), TEXT_CASES)


def test_pdf_page_cleaning_is_linear_on_hostile_text():
    assert_linear(clean_page_text, _ordinary_text(), TEXT_CASES)


def _layout(text: str) -> None:
    pages = [page.split("\n") for page in text.split("\f")]
    excluded_lines(pages)


def test_header_and_back_matter_detection_is_linear_on_hostile_pages():
    ordinary = "\f".join(
        _fit("Heading\nSome text of the page.\nPage 3\n", TEXT_CHARS // 50) for _ in range(50)
    )
    assert_linear(
        _layout,
        ordinary,
        {
            "digits": "\f".join(["1" * (TEXT_CHARS // 5)] * 5),
            "one page of page numbers": "\f".join([_fit("12\n", TEXT_CHARS // 5)] * 5),
            "numbers in a line": "\f".join([_fit("1 ", TEXT_CHARS // 5)] * 5),
            "references": "\f".join(["Intro", "References\n" + _fit("(2001) et al. doi\n", TEXT_CHARS // 2)]),
            "index": "\f".join(["Intro", "Index\n" + _fit("cell, 1, 2-3\n", TEXT_CHARS // 2)]),
            "years": "\f".join(["Intro", "References\n" + "1999" * (TEXT_CHARS // 8)]),
            "page lists": "\f".join(["Intro", "Index\n" + ", 12" * (TEXT_CHARS // 8)]),
            "many pages": "\f".join(["Course 101\nx\nPage 1"] * (TEXT_CHARS // 20)),
        },
    )


def test_titles_are_linear_on_hostile_names():
    def titles(name: str) -> None:
        title_from_filename(name)
        title_from_metadata(name)

    assert_linear(
        titles,
        _fit("Lecture 5 about vaccines and the immune system ", TEXT_CHARS),
        {
            "dots": "." * TEXT_CHARS,
            "copy marks": _fit(" (1)", TEXT_CHARS),
            "tool prefixes": _fit("Microsoft Word - ", TEXT_CHARS),
            "blanks": " " * TEXT_CHARS + "x",
            "language tags": _fit(".en", TEXT_CHARS) + ".vtt",
            "brackets": _fit("[abcdefghijk]", TEXT_CHARS),
        },
    )


# --- generated pictures ----------------------------------------------------------------


def _map(context: str) -> None:
    render_svg(concept_map("A description", context))


def test_concept_maps_are_linear_on_hostile_sections():
    ordinary = _fit("Chloroplasts capture light energy. The Calvin cycle fixes carbon dioxide. ", TEXT_CHARS)
    assert_linear(
        _map,
        ordinary,
        {
            "dots": "." * TEXT_CHARS,
            "dots then a word": "." * TEXT_CHARS + "x",
            "hyphenated word": _fit("a-", TEXT_CHARS),
            "apostrophes": _fit("a'", TEXT_CHARS),
            "one long word": "a" * TEXT_CHARS,
            "link targets": _fit("](", TEXT_CHARS),
            "placeholders": _fit("[VISUAL::", TEXT_CHARS),
            "distinct words": " ".join(f"word{n}" for n in range(TEXT_CHARS // 8)),
            "one sentence": " ".join(f"Term{n % 50} thing{n % 7}" for n in range(TEXT_CHARS // 14)),
        },
    )


def test_localizing_links_is_linear_on_hostile_notes(settings):
    base = settings.PUBLIC_BASE_URL = "http://localhost:8000"
    prefix = f"{base}/images/generated/"
    size = 1_000_000

    def localize(text: str) -> None:
        localize_generated_links(text, base_url="http://testserver")

    assert_linear(
        localize,
        _fit(f"Some note text with a link {prefix}abc:def.svg in it. ", size),
        {
            "prefixes": _fit(prefix, size),
            "a long token": prefix + "a" * size,
            "tokens without suffix": _fit(prefix + "a:b", size),
            "dots": prefix + "." * size,
        },
    )
