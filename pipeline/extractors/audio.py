"""Audio lectures to text with OpenAI speech-to-text (``OPENAI_TRANSCRIBE_MODEL``).

Uses the same SDK client, error mapping and shared rate limit as the OpenAI
AI provider. The request gets a longer timeout than a chat call:
``OPENAI_TRANSCRIBE_TIMEOUT`` if set, else 8 x ``PROVIDER_TIMEOUT``.
Retrying a transient failure is the extraction task's job.

The provider takes files up to ``OPENAI_TRANSCRIBE_MAX_BYTES`` (25 MB at
OpenAI). A file that fits is sent as it is. A larger one is cut into parts
of at most ``AUDIO_SEGMENT_SECONDS`` that overlap by
``AUDIO_SEGMENT_OVERLAP_SECONDS``, each re-encoded small enough to fit
(``media.py``: ffmpeg, and why); each part is transcribed on its own and the
texts are joined in order, the words heard twice in an overlap kept once.

The steps are plain functions over local files, so that the pipeline runs
the parts as parallel tasks (EXTRACT_SOURCE_TEXT fans out over them)::

    parts = cut_parts(path, directory=...)               # list[AudioPart]: Segment + its file
    texts = [transcribe_part(p.path, start_seconds=p.segment.start_seconds) for p in parts]
    extracted = join_transcripts(texts)

``transcribe_file`` does exactly that in turn. The transcription is asked
for timestamps (``verbose_json``), so the text's anchors carry the second
each phrase starts at, counted from the start of the whole recording.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from . import media
from .base import Anchor, Extracted, ExtractionError, anchor_at

logger = logging.getLogger(__name__)

NO_KEY = "This audio cannot be transcribed: audio needs a transcription provider (set OPENAI_API_KEY)."
NO_SPEECH = "The audio contained no speech we could transcribe."

# A new paragraph after a pause this long, or after this many sentences.
PARAGRAPH_PAUSE_SECONDS = 2.0
SENTENCES_PER_PARAGRAPH = 5
# How many words at the end of one part and the start of the next are
# compared to find the overlap; and the shortest run of words taken as it.
SEAM_WINDOW_WORDS = 60
SEAM_MIN_MATCH_WORDS = 2


# --- settings --------------------------------------------------------------------------


def transcription_configured() -> bool:
    """A transcription provider is set up (today: an OpenAI key)."""
    return bool(settings.OPENAI_API_KEY)


def max_upload_bytes() -> int:
    """The largest file the transcription provider takes (``OPENAI_TRANSCRIBE_MAX_BYTES``)."""
    return int(settings.OPENAI_TRANSCRIBE_MAX_BYTES)


def segment_seconds() -> float:
    """The longest part long audio is cut into (``AUDIO_SEGMENT_SECONDS``)."""
    return float(settings.AUDIO_SEGMENT_SECONDS)


def segment_overlap_seconds() -> float:
    """How much consecutive parts overlap (``AUDIO_SEGMENT_OVERLAP_SECONDS``), so
    that a word cut at a part's end is heard whole at the next one's start."""
    return float(settings.AUDIO_SEGMENT_OVERLAP_SECONDS)


# --- planning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A part of a recording to transcribe on its own: ``duration_seconds``
    from ``start_seconds`` on, or to the end of the file when
    ``duration_seconds`` is None (the last part: a duration estimated from
    the bitrate may fall short). ``Segment(0)`` is the whole file, sent as it
    is. JSON-able (``as_dict``/``from_dict``) so a task can be handed one."""

    index: int
    start_seconds: float = 0.0
    duration_seconds: float | None = None

    @property
    def whole_file(self) -> bool:
        return self.start_seconds == 0 and self.duration_seconds is None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict) -> Segment:
        duration = value.get("duration_seconds")
        return cls(
            index=int(value["index"]),
            start_seconds=float(value.get("start_seconds", 0.0)),
            duration_seconds=None if duration is None else float(duration),
        )


def plan_segments(path: Path) -> list[Segment]:
    """How to transcribe the audio at ``path``: the whole file when it fits the
    provider's upload limit, else overlapping parts in order. Raises
    ExtractionError for an empty file or one that is not audio."""
    size = Path(path).stat().st_size
    if size == 0:
        raise ExtractionError("The audio file is empty.")
    limit = max_upload_bytes()
    if size <= limit:
        return [Segment(index=0)]
    duration = media.audio_duration(Path(path))
    # The longest part that, encoded, stays well under the limit (in whole
    # seconds: plans are easier to read).
    fits = 0.9 * limit / media.PART_BYTES_PER_SECOND
    length = float(int(min(segment_seconds(), fits)))
    if length < 2.0:
        raise ExtractionError("OPENAI_TRANSCRIBE_MAX_BYTES is too small to send any audio.")
    overlap = min(segment_overlap_seconds(), length / 4)
    segments: list[Segment] = []
    start = 0.0
    while start + length < duration:
        segments.append(Segment(len(segments), start_seconds=round(start, 3), duration_seconds=length))
        start += length - overlap
    segments.append(Segment(len(segments), start_seconds=round(start, 3), duration_seconds=None))
    return segments


# --- transcribing -----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioPart:
    """A segment of a recording and the local file that holds it, ready to send."""

    segment: Segment
    path: Path


def cut_parts(path: Path, *, directory: Path) -> list[AudioPart]:
    """The audio at ``path`` as parts that each fit one request: the file
    itself when it fits, else overlapping parts cut into ``directory``."""
    segments = plan_segments(Path(path))
    if len(segments) == 1:
        return [AudioPart(segments[0], Path(path))]
    logger.info("audio over the upload limit: %d parts", len(segments))
    parts = []
    for segment in segments:
        part = media.cut_audio(
            Path(path),
            start_seconds=segment.start_seconds,
            duration_seconds=segment.duration_seconds,
            destination=Path(directory) / f"part-{segment.index:04d}.{media.PART_EXTENSION}",
        )
        if part.stat().st_size > max_upload_bytes():
            raise ExtractionError(
                "A part of the audio came out larger than the upload limit; lower AUDIO_SEGMENT_SECONDS."
            )
        parts.append(AudioPart(segment, part))
    return parts


def transcribe_part(path: Path, *, start_seconds: float = 0.0, filename: str = "") -> Extracted:
    """The text of one prepared part (sent as it is), its anchors in seconds
    from the start of the whole recording. May be empty (a silent part).
    Raises ExtractionError (``transient`` for retryable failures)."""
    if not transcription_configured():
        raise ExtractionError(NO_KEY)
    with Path(path).open("rb") as handle:
        return _transcribe_upload(handle, filename=filename or Path(path).name, offset=start_seconds)


def transcribe_file(path: Path, *, filename: str = "") -> Extracted:
    """The spoken text of the audio file at ``path``: every planned segment in
    turn, joined. Raises ExtractionError."""
    if not transcription_configured():
        raise ExtractionError(NO_KEY)
    with tempfile.TemporaryDirectory(prefix="studynaut-parts-") as directory:
        parts = cut_parts(Path(path), directory=Path(directory))
        texts = [
            transcribe_part(part.path, start_seconds=part.segment.start_seconds, filename=filename)
            for part in parts
        ]
    return spoken_text(texts)


def spoken_text(texts: list[Extracted]) -> Extracted:
    """The transcripts of consecutive parts joined; an ExtractionError when
    nothing was said."""
    extracted = join_transcripts(texts)
    if not extracted.text.strip():
        raise ExtractionError(NO_SPEECH)
    return extracted


def transcribe_audio(fileobj: IO[bytes], *, filename: str) -> Extracted:
    """The spoken text of an audio file object (an upload from storage, which
    may be remote): copied to a temporary local file, deleted afterwards.
    Raises ExtractionError (``transient`` for retryable failures)."""
    if not transcription_configured():
        raise ExtractionError(NO_KEY)
    suffix = Path(filename or "audio").suffix[:10]
    with tempfile.TemporaryDirectory(prefix="studynaut-audio-") as directory:
        path = Path(directory) / f"audio{suffix}"
        with path.open("wb") as local:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                fileobj.seek(0)  # the whole file, wherever the caller left its position
            shutil.copyfileobj(fileobj, local, length=1024 * 1024)
        return transcribe_file(path, filename=filename)


def _transcribe_upload(handle: IO[bytes], *, filename: str, offset: float) -> Extracted:
    """One request to the provider; timestamps when it gives them."""
    try:
        result = _create_transcription(handle, filename=filename, timestamps=True)
    except _TimestampsUnsupported:
        # gpt-4o-transcribe and some compatible servers only answer plain JSON.
        handle.seek(0)
        result = _create_transcription(handle, filename=filename, timestamps=False)
    return _timed_text(result, offset=offset)


class _TimestampsUnsupported(Exception):
    pass


def _create_transcription(handle: IO[bytes], *, filename: str, timestamps: bool) -> Any:
    import openai

    from pipeline import ratelimit
    from pipeline.providers import registry
    from pipeline.providers.openai_ai import get_client, map_openai_error

    timeout = settings.OPENAI_TRANSCRIBE_TIMEOUT
    extra: dict[str, Any] = (
        {"response_format": "verbose_json", "timestamp_granularities": ["segment"]} if timestamps else {}
    )
    try:
        registry.acquire("openai")
        client = get_client(timeout=float(timeout))
        return client.audio.transcriptions.create(
            model=settings.OPENAI_TRANSCRIBE_MODEL, file=(filename or "audio", handle), **extra
        )
    except openai.OpenAIError as exc:
        if timestamps and _refuses_timestamps(exc):
            raise _TimestampsUnsupported from None
        error = map_openai_error(exc, what="OpenAI speech-to-text")
        if error.transient and error.retry_after:
            ratelimit.pause("openai", error.retry_after)
        raise ExtractionError(f"Transcription failed: {error.message}", transient=error.transient) from None


def _refuses_timestamps(exc: Exception) -> bool:
    import openai

    if not isinstance(exc, openai.BadRequestError):
        return False
    text = f"{getattr(exc, 'message', '')} {getattr(exc, 'body', '')}".lower()
    return "response_format" in text or "verbose_json" in text or "timestamp" in text


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _timed_text(result: Any, *, offset: float) -> Extracted:
    """The answer as text in paragraphs, with an anchor at each timed phrase
    (``offset`` seconds added: where the segment starts in the recording)."""
    phrases: list[tuple[float, str, bool]] = []  # start, text, starts a paragraph
    previous_end: float | None = None
    sentences = 0
    for item in _field(result, "segments") or []:
        text = " ".join(str(_field(item, "text") or "").split())
        start, end = _field(item, "start"), _field(item, "end")
        if not text or not isinstance(start, int | float):
            continue
        paused = previous_end is not None and start - previous_end >= PARAGRAPH_PAUSE_SECONDS
        new_paragraph = bool(phrases) and (paused or sentences >= SENTENCES_PER_PARAGRAPH)
        if new_paragraph:
            sentences = 0
        sentences += len(re.findall(r"[.!?](?:\s|$)", text))
        previous_end = float(end) if isinstance(end, int | float) else float(start)
        phrases.append((float(start), text, new_paragraph))
    if not phrases:  # no timestamps: one anchor at the segment's start
        text = " ".join(str(_field(result, "text") or "").split())
        return Extracted(text=text, anchors=(Anchor(0, seconds=round(offset, 3)),) if text else ())
    pieces: list[str] = []
    anchors: list[Anchor] = []
    length = 0
    for start, text, new_paragraph in phrases:
        if pieces:
            separator = "\n\n" if new_paragraph else " "
            pieces.append(separator)
            length += len(separator)
        anchors.append(Anchor(length, seconds=round(start + offset, 3)))
        pieces.append(text)
        length += len(text)
    return Extracted(text="".join(pieces), anchors=tuple(anchors))


# --- joining ------------------------------------------------------------------------------

_TOKEN = re.compile(r"\S+")


def _normal(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.casefold())


def _seam(previous: str, following: str) -> tuple[int, int] | None:
    """Where to cut: keep ``previous`` up to the first offset, ``following``
    from the second; None when the overlap's words cannot be found in both."""
    tail = list(_TOKEN.finditer(previous))[-SEAM_WINDOW_WORDS:]
    head = list(_TOKEN.finditer(following))[:SEAM_WINDOW_WORDS]
    tail = [token for token in tail if _normal(token.group())]
    head = [token for token in head if _normal(token.group())]
    matcher = difflib.SequenceMatcher(
        None, [_normal(t.group()) for t in tail], [_normal(t.group()) for t in head], autojunk=False
    )
    match = matcher.find_longest_match(0, len(tail), 0, len(head))
    if match.size < SEAM_MIN_MATCH_WORDS:
        return None
    # Cut in the middle of the words both parts heard: far from either edge,
    # where a part may have heard half a word.
    middle = match.size // 2
    return tail[match.a + middle].start(), head[match.b + middle].start()


def join_transcripts(parts: list[Extracted]) -> Extracted:
    """The transcripts of consecutive overlapping segments, in order, as one
    text: the words of each overlap once, the anchors kept (they already
    count seconds from the start of the recording)."""
    text = ""
    anchors: list[Anchor] = []
    for part in parts:
        if not part.text.strip():
            continue
        if not text:
            text, anchors = part.text, list(part.anchors)
            continue
        seam = _seam(text, part.text)
        if seam is None:
            logger.info("no common words where two audio parts overlap: joined as they are")
        keep, resume = seam if seam is not None else (len(text), 0)
        head = text[:keep].rstrip()
        separator = "\n\n" if part.text[:resume].endswith("\n\n") else " "
        base = len(head) + len(separator)
        anchors = [anchor for anchor in anchors if anchor.offset < len(head)]
        covering = anchor_at(part.anchors, resume)
        if covering is not None and covering.offset < resume:
            # The phrase the join resumes in started before the cut.
            anchors.append(Anchor(base, page=covering.page, seconds=covering.seconds))
        anchors.extend(
            Anchor(base + anchor.offset - resume, page=anchor.page, seconds=anchor.seconds)
            for anchor in part.anchors
            if anchor.offset >= resume
        )
        text = head + separator + part.text[resume:]
    return Extracted(text=text, anchors=tuple(anchors))
