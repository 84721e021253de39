"""What every extractor returns, and its error.

An extractor turns a source into ``Extracted``: the plain text the AI reads,
plus a map back to the source (``anchors``), so that a quote found in the
text can be placed on its PDF page or at its second of the recording.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pipeline.errors import ExtractionError

__all__ = ["Anchor", "Extracted", "ExtractionError"]


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
    """The text of a source. ``title`` is the document's own title when it
    has one (PDF metadata, a video's title), else ""."""

    text: str
    anchors: tuple[Anchor, ...] = field(default_factory=tuple)
    title: str = ""

    def anchor_at(self, offset: int) -> Anchor | None:
        """The anchor that covers character ``offset`` (None before the first)."""
        return anchor_at(self.anchors, offset)


def anchor_at(anchors: tuple[Anchor, ...] | list[Anchor], offset: int) -> Anchor | None:
    index = bisect.bisect_right([anchor.offset for anchor in anchors], offset) - 1
    return anchors[index] if index >= 0 else None
