"""What every extractor returns, and its error.

An extractor turns a source into ``Extracted``: the plain text the AI reads,
plus a map back to the source (``anchors``), so that a quote found in the
text can be placed on its PDF page or at its second of the recording.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.errors import ExtractionError

__all__ = ["Anchor", "Chapter", "Extracted", "ExtractionError", "Speech", "SpeechReader"]


@dataclass(frozen=True)
class Anchor:
    """From character ``offset`` of the extracted text on, the text comes from
    ``page`` (1-based, PDFs) and/or starts at ``seconds`` (captions, YouTube,
    audio). Anchors of one text are sorted by offset."""

    offset: int
    page: int | None = None
    seconds: float | None = None

    def as_list(self) -> list:
        return [self.offset, self.page, self.seconds]

    @classmethod
    def from_list(cls, value: list) -> Anchor:
        offset, page, seconds = [*list(value), None, None][:3]
        return cls(int(offset), page, seconds)


@dataclass(frozen=True)
class Extracted:
    """The text of a source.

    ``title`` is the document's own title when it has one (PDF metadata, a
    video's title), else "". ``excluded`` are ``(start, end)`` character
    ranges of ``text`` that stay in the extracted text (an origin may point
    there) but that the note is not written from: running headers and
    footers, an index, a bibliography.
    """

    text: str
    anchors: tuple[Anchor, ...] = field(default_factory=tuple)
    title: str = ""
    excluded: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    def anchor_at(self, offset: int) -> Anchor | None:
        """The anchor that covers character ``offset`` (None before the first)."""
        return anchor_at(self.anchors, offset)

    def note_text(self) -> str:
        """The text without its excluded ranges: what the note is written from."""
        return without_ranges(self.text, self.excluded)

    def text_map(self) -> dict:
        """The JSON stored beside the text (Source.text_map)."""
        return {
            "anchors": [anchor.as_list() for anchor in self.anchors],
            "excluded": [[start, end] for start, end in self.excluded],
        }

    @classmethod
    def from_stored(cls, text: str, text_map: dict | None) -> Extracted:
        text_map = text_map or {}
        return cls(
            text=text,
            anchors=tuple(Anchor.from_list(item) for item in text_map.get("anchors", ())),
            excluded=tuple((int(start), int(end)) for start, end in text_map.get("excluded", ())),
        )


def without_ranges(text: str, ranges: tuple[tuple[int, int], ...]) -> str:
    """``text`` with the (sorted, non-overlapping) ``ranges`` cut out."""
    if not ranges:
        return text
    parts, position = [], 0
    for start, end in sorted(ranges):
        start = max(start, position)
        if end > start:
            parts.append(text[position:start])
            position = end
    parts.append(text[position:])
    return "".join(parts)


def anchor_at(anchors: tuple[Anchor, ...] | list[Anchor], offset: int) -> Anchor | None:
    index = bisect.bisect_right([anchor.offset for anchor in anchors], offset) - 1
    return anchors[index] if index >= 0 else None


@dataclass(frozen=True)
class Chapter:
    """A chapter of a video: where it starts and what it is called."""

    start_seconds: float
    title: str


@dataclass(frozen=True)
class Speech:
    """Speech too long for one request to the transcription provider: its
    parts, cut and kept in storage, to be transcribed one task each and
    joined in order. ``parts``: (start second in the recording, storage
    name), in order. A video's title and chapters ride along."""

    parts: tuple[tuple[float, str], ...]
    title: str = ""
    chapters: tuple[Chapter, ...] = ()


# Reads a local audio file: its text (transcribed at once), or its parts to
# transcribe in parallel. Called as speech(path, filename=...).
SpeechReader = Callable[..., "Extracted | Speech"]
