"""Caption files (WebVTT and SRT) to readable text.

Timestamps, cue numbers and settings, NOTE/STYLE/REGION blocks and inline
markup go; the words stay. Automatic captions repeat each line in the next
cue, so consecutive repeats are dropped. Cues are joined into paragraphs: a
new one starts after a pause of more than two seconds or every few sentences.
"""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass

from .base import Anchor, Extracted, ExtractionError

PARAGRAPH_GAP_SECONDS = 2.0
SENTENCES_PER_PARAGRAPH = 5

_TIMESTAMP = r"(?:\d{1,3}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING_RE = re.compile(rf"^\s*({_TIMESTAMP})\s*-->\s*({_TIMESTAMP})(?:\s+.*)?$")
_SRT_INDEX_RE = re.compile(r"^\s*\d+\s*$")
_TAG_RE = re.compile(r"</?[A-Za-z][^>]*>|<\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?>")
_ASS_RE = re.compile(r"\{\\[^}]*\}")
_SENTENCE_END_RE = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s|$)")


@dataclass
class _Cue:
    start: float
    end: float
    lines: list[str]


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _seconds(stamp: str) -> float:
    stamp = stamp.replace(",", ".")
    parts = stamp.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2]) if len(parts) >= 2 else 0
    hours = int(parts[-3]) if len(parts) >= 3 else 0
    return hours * 3600 + minutes * 60 + seconds


def _clean_line(line: str) -> str:
    line = _ASS_RE.sub("", line)
    line = _TAG_RE.sub("", line)
    line = html.unescape(line).replace("\u00a0", " ")
    line = re.sub(r"^\s*(?:-\s+|>>\s*)", "", line)  # speaker dashes and chevrons
    return " ".join(line.split())


def _detect(text: str) -> str:
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    if re.match(r"^WEBVTT(?:[ \t].*)?$", first.strip()):
        return "vtt"
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        if _SRT_INDEX_RE.match(line) and _TIMING_RE.match(lines[index + 1]):
            return "srt"
    return ""


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _cues(text: str, kind: str) -> list[_Cue]:
    cues: list[_Cue] = []
    for block in _blocks(text):
        if kind == "vtt" and re.match(r"^(?:NOTE|STYLE|REGION)(?:\s|$)", block[0].strip()):
            continue
        cue: _Cue | None = None
        for index, line in enumerate(block):
            timing = _TIMING_RE.match(line)
            if timing:
                cue = _Cue(_seconds(timing.group(1)), _seconds(timing.group(2)), [])
                cues.append(cue)
                continue
            if cue is None:
                continue  # the header, a cue identifier or stray text before any timing
            if _SRT_INDEX_RE.match(line) and index + 1 < len(block) and _TIMING_RE.match(block[index + 1]):
                continue  # the number of the next cue in a file that lacks blank lines
            cleaned = _clean_line(line)
            if cleaned:
                cue.lines.append(cleaned)
    return [cue for cue in cues if cue.lines]


def _ends_sentence(line: str) -> bool:
    return re.search(r"[.!?][\"'\u201d\u2019)\]]*$", line) is not None


def _paragraphs(cues: list[_Cue]) -> list[tuple[float, str]]:
    """Paragraphs of the cues' text, each with the start of its first cue."""
    paragraphs: list[tuple[float, str]] = []
    current: list[str] = []
    current_start = 0.0
    sentences = 0
    recent: deque[str] = deque(maxlen=3)
    previous_end: float | None = None

    def close() -> None:
        nonlocal current, sentences
        if current:
            paragraphs.append((current_start, " ".join(current)))
        current, sentences = [], 0

    for cue in cues:
        gap = cue.start - previous_end if previous_end is not None else 0.0
        previous_end = cue.end if previous_end is None else max(cue.end, previous_end)
        if current and gap > PARAGRAPH_GAP_SECONDS:
            close()
        for line in cue.lines:
            key = line.casefold()
            if key in recent:
                continue  # automatic captions repeat the lines of the previous cue
            recent.append(key)
            if not current:
                current_start = cue.start
            current.append(line)
            sentences += len(_SENTENCE_END_RE.findall(line))
            if sentences >= SENTENCES_PER_PARAGRAPH and _ends_sentence(line):
                close()
    close()
    return [(start, text) for start, text in paragraphs if text.strip()]


def join_timed(paragraphs: list[tuple[float, str]]) -> Extracted:
    """Timed paragraphs as one text (blank lines between them) with an anchor
    at the start of each."""
    anchors: list[Anchor] = []
    offset = 0
    for index, (start, text) in enumerate(paragraphs):
        if index:
            offset += 2
        anchors.append(Anchor(offset, seconds=round(start, 3)))
        offset += len(text)
    return Extracted(text="\n\n".join(text for _, text in paragraphs), anchors=tuple(anchors))


def captions_to_text(raw: bytes) -> Extracted:
    """The text of a WebVTT or SRT file, as paragraphs separated by blank
    lines, each anchored at the start time of its first cue.

    Raises ExtractionError when the file is neither format or holds no text.
    """
    text = _decode(raw).replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    kind = _detect(text)
    if not kind:
        raise ExtractionError(
            "The file is not a caption file we can read: expected WebVTT (starting with WEBVTT) "
            "or SRT (numbered cues with '00:00:01,000 --> 00:00:04,000' timings)."
        )
    paragraphs = _paragraphs(_cues(text, kind))
    if not paragraphs:
        raise ExtractionError("The caption file contains no text.")
    return join_timed(paragraphs)
