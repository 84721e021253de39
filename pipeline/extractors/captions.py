"""Caption files (WebVTT and SRT) to readable text.

What goes:
- timestamps, cue numbers and settings, NOTE/STYLE/REGION blocks, inline
  markup (``<b>``, ``<c.yellow>``, karaoke timestamps, ``{\\an8}``);
- sound and music descriptions: ``[MUSIC PLAYING]``, ``[LAUGHTER]``,
  ``(applause)``, ``(LAUGHS)``, ``♪ sung words ♪``;
- speaker labels: ``<v Name>``, ``DAVID MALAN:``, ``AUDIENCE:``,
  ``>> NAME:``, ``>>``, ``[Speaker] ...`` at the start of a line;
- credit and advertisement lines of subtitle sites ("Subtitles by ...",
  "Sync and corrections by ...", "Downloaded from www.opensubtitles.org");
- the text automatic captions repeat: each cue of YouTube's rolling
  captions shows the previous line again, whole or in part.

The shape of the text, for the summarizer downstream:
- paragraphs are separated by one blank line (``"\\n\\n"``); a new one starts
  after a pause of more than PARAGRAPH_GAP_SECONDS, when the speaker changes,
  and every few sentences;
- sections are separated by two blank lines (``"\\n\\n\\n"``): a new section
  starts after a pause of more than SECTION_GAP_SECONDS (a break in the
  lecture, music between two parts). ``normalize_text`` keeps this shape.

Each paragraph is anchored (``Anchor(offset, seconds=...)``) at the start of
the first cue whose words it holds after the clean-up.

A caption file may be 5 MB of hostile text, so every pattern here runs in
linear time: no unbounded run may be retried from each of its characters
(``[^<>]*`` stops at the next ``<``, where ``[^>]*`` would rescan the rest
of the line from every ``<``), and anything that is not a pattern is a loop.
"""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from .base import Anchor, Extracted, ExtractionError
from .text import normalize_newlines
from .titles import clean_title, is_meaningful_title, title_from_filename

PARAGRAPH_GAP_SECONDS = 2.0
SECTION_GAP_SECONDS = 6.0
SENTENCES_PER_PARAGRAPH = 5
PARAGRAPH_SEPARATOR = "\n\n"
SECTION_SEPARATOR = "\n\n\n"


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TIMESTAMP = r"(?:\d{1,3}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING_RE = re.compile(rf"^\s*({_TIMESTAMP})\s*-->\s*({_TIMESTAMP})(?:\s.*)?$")
_SRT_INDEX_RE = re.compile(r"^\s*\d{1,9}\s*$")
_VTT_BLOCK_RE = re.compile(r"^(?:NOTE|STYLE|REGION)(?:\s|$)")
_VTT_HEADER_RE = re.compile(r"^WEBVTT(?:[ \t](.*))?$")
_VOICE_RE = re.compile(r"<v(?:\.[^ \t<>]*)?[ \t]+([^<>]*)>")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>|<\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?>")
_ASS_RE = re.compile(r"\{\\[^{}]*\}")
_SENTENCE_END_RE = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s|$)")
_BRACKET_RE = re.compile(r"\[([^\[\]]{0,80})\]")
_PAREN_RE = re.compile(r"\(([^()]{1,60})\)")
# From a note to the next one, or to the end of the line: sung words.
_MUSIC_RE = re.compile("[\u266a\u266b\u266c][^\u266a\u266b\u266c]*[\u266a\u266b\u266c]?")
_LEADING_BRACKET_RE = re.compile(r"^\s*\[([^\[\]]{1,40})\]\s*")
_LEADING_DASH_RE = re.compile(r"^\s*[-\u2010\u2013\u2014]\s+")
_SPEAKER_WORD_RE = re.compile(r"^speaker(?:\s*\d{1,3})?$", re.IGNORECASE)

# First words of sound and music descriptions, in a few languages.
SOUND_WORDS = _word_set(
    """
    music musical playing plays song singing sings instrumental upbeat dramatic soft gentle intro outro
    applause applauding laughter laughing laughs laugh chuckles chuckling chuckle giggles giggling
    cheering cheers clapping claps inaudible indistinct unintelligible crosstalk silence silent coughs
    coughing cough sighs sigh sniffs noise noises sound sounds beep beeps bell bells ringing static
    background mumbles mumbling whispers whispering groans gasps gasp screams sneezes bleep buzzer
    thunder footsteps door phone typing chalk pause pauses blank_audio audio foreign speaking risas
    aplausos música musica rires applaudissements musique lachen applaus musik gelächter risate applausi
    risos
    """
)

# Credit and advertisement lines of subtitle sites. Only phrases that a
# lecture does not say: "transcribed by RNA polymerase" and "proteins encoded
# by genes" are science, so "transcribed/encoded/translated by" alone are not
# enough; a subtitle word or a subtitle site is.
_AD_RE = re.compile(
    r"\b(?:subtitles?|subs|subtitled|subtitling|captions?|captioned|captioning|closed[- ]captioning)"
    r"(?:\s+[\w&.-]+){0,3}?\s+by\b"
    r"|\bsync(?:ed|hroni[sz]ed)?\s+(?:and|&)\s+correct"
    r"|\bre-?sync(?:ed)?\s+by\b"
    r"|^\s*(?:subtitles?|captions?|subtitulado|subt[i\u00ed]tulos|sous-titres?|untertitel)\s*[:\u2013-]"
    r"|\b(?:subt[i\u00ed]tulos|subtitulado|subtitulaci[o\u00f3]n)\s+(?:por|de|realizados)\b"
    r"|\bsous-titr(?:es|age)\s+(?:par|r[e\u00e9]alis[e\u00e9]s)\b"
    r"|\buntertitel(?:ung)?\s+(?:von|durch)\b"
    r"|\bdownloaded\s+from\s+(?:www\.|https?://|\w+subtitles)"
    r"|\bopensubtitles|\baddic7ed|\bsubscene\b|\bpodnapisi|\byifysubtitles|\bsubdivx|\btvsubtitles"
    r"|\bamara\.org\b|\bsubs4free"
    r"|\bsupport\s+us\s+and\s+become\s+vip"
    r"|\badvertise\s+your\s+product\s+or\s+brand"
    r"|\bplease\s+rate\s+this\s+subtitle",
    re.IGNORECASE,
)
_WORD_PUNCTUATION = ".,!?;:\"'()[]\u2018\u2019\u201c\u201d\u2026-\u2013\u2014"
# An advertisement is a short line; a long one is speech.
_AD_MAX_CHARS = 200
_LABEL_MAX_CHARS = 40


@dataclass
class _Cue:
    start: float
    end: float
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Segment:
    """Words of one speaker inside a cue; ``new_speaker``: a label or a
    marker says someone else speaks from here."""

    text: str
    new_speaker: bool = False


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


def _timing(line: str) -> re.Match | None:
    return _TIMING_RE.match(line) if "-->" in line else None


def _detect(text: str) -> str:
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    if _VTT_HEADER_RE.match(first.strip()):
        return "vtt"
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        if _SRT_INDEX_RE.match(line) and _timing(lines[index + 1]):
            return "srt"
    return ""


def _cues(text: str, kind: str) -> list[_Cue]:
    """The cues with their raw payload lines.

    An empty line ends a cue's payload. A line of blanks ends it only once it
    has text: YouTube's automatic captions put a line holding one space first.
    """
    lines = text.split("\n")
    cues: list[_Cue] = []
    cue: _Cue | None = None
    in_payload = False
    skipping_block = False
    for index, line in enumerate(lines):
        timing = _timing(line)
        if timing:
            cue = _Cue(_seconds(timing.group(1)), _seconds(timing.group(2)))
            cues.append(cue)
            in_payload, skipping_block = True, False
            continue
        if not line.strip():
            if line == "" or (cue is not None and cue.lines):
                in_payload = False
            if not in_payload:
                skipping_block = False
            continue
        if skipping_block:
            continue
        if not in_payload:
            # The header, a cue identifier, stray text; NOTE/STYLE/REGION blocks.
            skipping_block = kind == "vtt" and _VTT_BLOCK_RE.match(line.strip()) is not None
            continue
        if _SRT_INDEX_RE.match(line) and index + 1 < len(lines) and _timing(lines[index + 1]):
            continue  # the number of the next cue in a file that lacks blank lines
        if cue is not None:
            cue.lines.append(line)
    return cues


def _is_sound(description: str) -> bool:
    """A sound description: its first word is a sound word, or it is several
    upper-case words ("DOOR CLOSES"; a single "DNA" is a word of the lecture)."""
    words = description.replace("_", " ").split()
    if not words:
        return True
    if words[0].strip(_WORD_PUNCTUATION).casefold() in SOUND_WORDS:
        return True
    letters = [char for char in description if char.isalpha()]
    return len(words) >= 2 and bool(letters) and all(char.isupper() for char in letters)


def _drop_parenthesised_sound(match: re.Match) -> str:
    return " " if _is_sound(match.group(1)) else match.group(0)


def _speaker_label(text: str) -> tuple[str, str] | None:
    """``("DAVID MALAN", "rest")`` when ``text`` starts with a speaker label:
    upper-case words (or "Speaker 2") before a colon."""
    head, colon, rest = text.partition(":")
    label = head.strip()
    if not colon or not label or len(label) > _LABEL_MAX_CHARS or label[0].isdigit():
        return None
    if rest[:1] not in ("", " ", "\t"):
        return None  # "10:30", "re:Invent": not a label
    if _SPEAKER_WORD_RE.match(label):
        return label, rest
    letters = [char for char in label if char.isalpha()]
    if len(letters) < 2 or len(label.split()) > 4 or not all(char.isupper() for char in letters):
        return None
    if not all(char.isalnum() or char in " .'\u2019-" for char in label):
        return None
    return label, rest


def _is_advertisement(line: str) -> bool:
    return len(line) <= _AD_MAX_CHARS and _AD_RE.search(line) is not None


def _strip_markup(line: str) -> tuple[str, str | None]:
    """The line without markup, escapes and sound descriptions, and the name
    of a ``<v Name>`` voice tag if it has one."""
    voice = _VOICE_RE.search(line)
    line = _ASS_RE.sub("", line)
    line = _TAG_RE.sub("", line)
    line = html.unescape(line).replace("\u00a0", " ")
    line = _MUSIC_RE.sub(" ", line)
    return line, (" ".join(voice.group(1).split()) or None) if voice else None


class _Speakers:
    """Splits caption lines into segments where the speaker changes, keeping
    track of who speaks (a label, a voice tag, or nobody known)."""

    def __init__(self) -> None:
        self.current: str | None = None

    def _switch(self, name: str | None) -> bool:
        """Make ``name`` the speaker; True when that is a change."""
        changed = name is None or name != self.current
        self.current = name
        return changed

    def segments(self, line: str) -> list[_Segment]:
        """The words of one caption line, split where the speaker changes. A
        label with no words after it gives an empty segment that only marks
        the change."""
        line, voice = _strip_markup(line)
        if not line.strip() or _is_advertisement(" ".join(line.split())):
            return []
        change = voice is not None and self._switch(voice)
        leading = _LEADING_BRACKET_RE.match(line)
        if leading and not _is_sound(leading.group(1)) and line[leading.end() :].strip():
            # "[Speaker] words"
            change = self._switch(" ".join(leading.group(1).split())) or change
            line = line[leading.end() :]
        line = _BRACKET_RE.sub(" ", line)
        line = _PAREN_RE.sub(_drop_parenthesised_sound, line)
        segments: list[_Segment] = []
        # ">>" marks a new speaker (broadcast captions), with or without a name.
        for index, part in enumerate(line.split(">>")):
            if index:
                change = self._switch(None)
            part = _LEADING_DASH_RE.sub("", part)
            labelled = _speaker_label(part)
            if labelled is not None:
                label, part = labelled
                change = self._switch(label) or change
            text = " ".join(part.split())
            if text.strip(_WORD_PUNCTUATION):
                segments.append(_Segment(text, change))
                change = False
        if change:
            segments.append(_Segment("", True))
        return segments


def _word_key(word: str) -> str:
    return word.strip(_WORD_PUNCTUATION).casefold()


class _RepeatFilter:
    """Drops what rolling captions repeat: a line equal to one of the last
    few, and the start of a line that repeats the end of what was already
    said ("the cell is the basic" + "the basic unit of life")."""

    TAIL_WORDS = 40
    RECENT_LINES = 3
    # One repeated word is dropped only when it is long: "that that" and
    # "very very" are speech, "powerhouse powerhouse" at a cue boundary is not.
    SINGLE_WORD_MIN_CHARS = 5

    def __init__(self) -> None:
        self._tail: deque[str] = deque(maxlen=self.TAIL_WORDS)
        self._recent: deque[str] = deque(maxlen=self.RECENT_LINES)

    def new_words(self, text: str) -> str:
        words = text.split()
        key = " ".join(_word_key(word) for word in words[: self.TAIL_WORDS * 4]) + f"/{len(words)}"
        if key in self._recent:
            return ""
        self._recent.append(key)
        head = [_word_key(word) for word in words[: self.TAIL_WORDS]]
        tail = list(self._tail)
        overlap = 0
        for size in range(min(len(head), len(tail)), 0, -1):
            if tail[-size:] == head[:size]:
                overlap = size
                break
        if overlap == 1 and len(head[0]) < self.SINGLE_WORD_MIN_CHARS:
            overlap = 0
        new = words[overlap:]
        self._tail.extend(_word_key(word) for word in new[-self.TAIL_WORDS :])
        return " ".join(new)


@dataclass
class _Paragraph:
    start: float
    parts: list[str]
    new_section: bool


class _ParagraphBuilder:
    def __init__(self) -> None:
        self.paragraphs: list[_Paragraph] = []
        self._current: _Paragraph | None = None
        self._sentences = 0
        self._section_pending = False

    def close(self) -> None:
        if self._current is not None:
            self.paragraphs.append(self._current)
        self._current, self._sentences = None, 0

    def new_section(self) -> None:
        self.close()
        self._section_pending = bool(self.paragraphs)

    def add(self, text: str, *, start: float) -> None:
        if self._current is None:
            self._current = _Paragraph(start, [], self._section_pending)
            self._section_pending = False
        self._current.parts.append(text)
        self._sentences += len(_SENTENCE_END_RE.findall(text))
        if self._sentences >= SENTENCES_PER_PARAGRAPH and _ends_sentence(text):
            self.close()


def _ends_sentence(text: str) -> bool:
    return text.rstrip("\"'\u201d\u2019)]")[-1:] in (".", "!", "?")


def _paragraphs(cues: list[_Cue]) -> list[_Paragraph]:
    speakers = _Speakers()
    timed: list[tuple[_Cue, list[_Segment]]] = []
    for cue in cues:
        segments = [segment for line in cue.lines for segment in speakers.segments(line)]
        if any(segment.text for segment in segments):
            timed.append((cue, segments))
        elif segments and timed:
            # A label on a line of its own: the next words are the new speaker's.
            timed[-1][1].append(_Segment("", True))

    builder = _ParagraphBuilder()
    repeats = _RepeatFilter()
    previous_end: float | None = None
    for cue, segments in timed:
        # Pauses are measured between cues that hold words: music between two
        # parts of a lecture is a pause.
        gap = cue.start - previous_end if previous_end is not None else 0.0
        previous_end = cue.end if previous_end is None else max(cue.end, previous_end)
        if gap > SECTION_GAP_SECONDS:
            builder.new_section()
        elif gap > PARAGRAPH_GAP_SECONDS:
            builder.close()
        for segment in segments:
            if segment.new_speaker:
                builder.close()
            text = repeats.new_words(segment.text) if segment.text else ""
            if text:
                builder.add(text, start=cue.start)
    builder.close()
    return builder.paragraphs


def join_timed(paragraphs: Sequence[tuple[float, str]], *, section_starts: Collection[int] = ()) -> Extracted:
    """Timed paragraphs as one text with an anchor at the start of each:
    one blank line between paragraphs, two before each paragraph whose index
    is in ``section_starts``."""
    anchors: list[Anchor] = []
    parts: list[str] = []
    offset = 0
    for index, (start, text) in enumerate(paragraphs):
        if index:
            separator = SECTION_SEPARATOR if index in section_starts else PARAGRAPH_SEPARATOR
            parts.append(separator)
            offset += len(separator)
        anchors.append(Anchor(offset, seconds=round(start, 3)))
        parts.append(text)
        offset += len(text)
    return Extracted(text="".join(parts), anchors=tuple(anchors))


def _caption_title(candidate: str) -> str:
    """A title candidate cleaned like a caption line: a sound tag or a
    subtitle site's credit is no title."""
    segments = _Speakers().segments(candidate.strip(" \t-\u2013\u2014:"))
    title = clean_title(" ".join(segment.text for segment in segments))
    return title if is_meaningful_title(title) else ""


def _header_title(text: str, kind: str) -> str:
    """The title some WebVTT files carry on their first line ("WEBVTT - Cell
    biology, part 2")."""
    if kind != "vtt":
        return ""
    first = text.lstrip("\ufeff \t\n").split("\n", 1)[0][:400]
    header = _VTT_HEADER_RE.match(first.strip())
    return _caption_title(header.group(1)) if header and header.group(1) else ""


def captions_to_text(raw: bytes, *, filename: str = "") -> Extracted:
    """The text of a WebVTT or SRT file (see the module's docstring for its
    shape), each paragraph anchored at the start of its first cue, and a
    title from the file's name or its WebVTT header when they mean something.

    Raises ExtractionError when the file is neither format or holds no text.
    """
    text = normalize_newlines(_decode(raw)).lstrip("\ufeff")
    kind = _detect(text)
    if not kind:
        raise ExtractionError(
            "The file is not a caption file we can read: expected WebVTT (starting with WEBVTT) "
            "or SRT (numbered cues with '00:00:01,000 --> 00:00:04,000' timings)."
        )
    paragraphs = _paragraphs(_cues(text, kind))
    if not paragraphs:
        raise ExtractionError("The caption file contains no text.")
    extracted = join_timed(
        [(paragraph.start, " ".join(paragraph.parts)) for paragraph in paragraphs],
        section_starts={index for index, paragraph in enumerate(paragraphs) if paragraph.new_section},
    )
    title = _caption_title(title_from_filename(filename)) or _header_title(text, kind)
    return Extracted(text=extracted.text, anchors=extracted.anchors, title=title)
