"""Splitting a paragraph into sentences, per language.

pysbd (rule-based, 22 languages) knows abbreviations, initials, numbers and
ellipses. Its running time grows faster than the text (measured: twice the
text, four times the time), so it only ever sees pieces of at most
``_PIECE_CHARS`` characters, cut where a sentence surely ends: the whole stays
linear. Languages pysbd does not know get a plain splitter (a sentence ends
with . ! ? … before a capital letter, a digit or an opening quote).

A "sentence" longer than ``MAX_SENTENCE_CHARS`` (a transcript without
punctuation) is cut at commas or spaces, so that every sentence can be quoted.
"""

from __future__ import annotations

import re
import threading

from .markup import squash

MAX_SENTENCE_CHARS = 400
_PIECE_CHARS = 1_000
_PYSBD_LANGUAGES = frozenset(
    {"am", "ar", "bg", "da", "de", "el", "en", "es", "fa", "fr", "hi", "hy", "it", "ja", "kk", "mr", "my",
     "nl", "pl", "ru", "sk", "ur", "zh"}
)  # fmt: skip
# A likely end of sentence: punctuation, closing quotes, a space, then a capital,
# a digit or an opening quote. One character class each: linear.
_BOUNDARY_RE = re.compile(
    r"[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019\u00bb)\]]*"
    r"(?= +[\"'\u201c\u2018\u00ab(\[\u00bf\u00a1]?[^\W_a-z])"
)
_ENDS_RE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f]")
# Words before a period that do not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "no",
        "nr",
        "fig",
        "figs",
        "eq",
        "approx",
        "ca",
        "ch",
        "vol",
        "pp",
        "p",
        "al",
        "jr",
        "sr",
        "sra",
        "sr",
        "srta",
        "dra",
        "etc",
        "ej",
        "p.ej",
        "mme",
        "mlle",
        "m",
        "z.b",
        "bzw",
        "usw",
        "ggf",
        "vgl",
        "ca",
        "nr",
        "s",
        "sig",
        "sigg",
        "pag",
    ]
)

_local = threading.local()


def _segmenter(language: str):
    segmenters = getattr(_local, "segmenters", None)
    if segmenters is None:
        segmenters = _local.segmenters = {}
    segmenter = segmenters.get(language)
    if segmenter is None:
        import pysbd

        segmenter = segmenters[language] = pysbd.Segmenter(language=language, clean=False, char_span=False)
    return segmenter


def _pieces(text: str) -> list[str]:
    """``text`` cut into pieces of at most _PIECE_CHARS at likely sentence ends
    (else at a space), to feed pysbd a bounded amount at a time."""
    if len(text) <= _PIECE_CHARS:
        return [text]
    pieces: list[str] = []
    start = 0
    while len(text) - start > _PIECE_CHARS:
        window = text[start : start + _PIECE_CHARS]
        cut = -1
        for match in _BOUNDARY_RE.finditer(window):
            cut = match.end()
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = _PIECE_CHARS
        pieces.append(text[start : start + cut])
        start += cut
    pieces.append(text[start:])
    return pieces


def _plain_split(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        before = text[start : match.start()].rsplit(" ", 1)[-1].casefold().rstrip(".")
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue  # "e.g. The", "J. Watt"
        sentences.append(text[start : match.end()])
        start = match.end()
    sentences.append(text[start:])
    return sentences


def _cut_long(sentence: str) -> list[str]:
    """A run-on "sentence" cut into quotable pieces, at commas where possible."""
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return [sentence]
    pieces: list[str] = []
    while len(sentence) > MAX_SENTENCE_CHARS:
        window = sentence[:MAX_SENTENCE_CHARS]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > MAX_SENTENCE_CHARS // 3 else window.rfind(" ")
        if cut <= 0:
            cut = MAX_SENTENCE_CHARS
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    pieces.append(sentence)
    return pieces


def split_sentences(paragraph: str, language: str = "") -> list[str]:
    """The sentences of one paragraph, each an exact substring of the
    paragraph with its spaces squashed."""
    text = squash(paragraph)
    if not text:
        return []
    if len(text) < 30 or not _ENDS_RE.search(text[:-1]):
        raw = [text]
    elif language in _PYSBD_LANGUAGES:
        raw = []
        for piece in _pieces(text):
            found = _segmenter(language).segment(piece)
            # pysbd returns pieces of its input; anything else means it changed
            # the text, and the plain splitter takes over for that piece.
            if all(isinstance(part, str) and part.strip() in piece for part in found):
                raw.extend(found)
            else:
                raw.extend(_plain_split(piece))
    else:
        raw = []
        for piece in _pieces(text):
            raw.extend(_plain_split(piece))
    sentences: list[str] = []
    for part in raw:
        part = part.strip()
        if part:
            sentences.extend(piece.strip() for piece in _cut_long(part) if piece.strip())
    return sentences
