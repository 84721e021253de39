"""Text of a source, whatever its kind."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from notes.models import Source

from .base import Extracted, ExtractionError, Speech

# Keeps a cut part of a long recording where every worker finds it
# (Django storage): keep_part(index, local_path) -> its storage name.
KeepPart = Callable[[int, Path], str]


def _audio_filename(handle) -> str:
    """A file name whose extension matches the audio's bytes: the speech API
    reads the format from it, and the client's name may be wrong or absent."""
    import filetype

    head = handle.read(8192)
    handle.seek(0)
    return f"lecture.{filetype.guess_extension(head) or 'mp3'}"


def _speech_reader(keep_part: KeepPart | None):
    """Reads a local recording: transcribed at once when it fits one request
    (or when nobody keeps parts), else its parts, kept, to transcribe in
    parallel."""
    from . import audio

    if keep_part is None:
        return audio.transcribe_file

    def read(path: Path, *, filename: str = "") -> Extracted | Speech:
        if not audio.transcription_configured():
            raise ExtractionError(audio.NO_KEY)
        with tempfile.TemporaryDirectory(prefix="studynaut-parts-") as directory:
            parts = audio.cut_parts(Path(path), directory=Path(directory))
            if len(parts) == 1:
                return audio.spoken_text([audio.transcribe_part(parts[0].path, filename=filename)])
            return Speech(
                parts=tuple(
                    (part.segment.start_seconds, keep_part(part.segment.index, part.path)) for part in parts
                )
            )

    return read


def extract_text(source: Source, *, keep_part: KeepPart | None = None) -> Extracted | Speech:
    """Extract the plain text of a source, with its map back to the source.

    Speech too long for one request to the transcription provider is
    transcribed here part after part, unless ``keep_part`` is given: then its
    parts are kept with it and returned (``Speech``) for the pipeline to
    transcribe in parallel. Raises ExtractionError."""
    # Imported here: each extractor pulls in its own library.
    kind = source.kind
    if kind == Source.Kind.TEXT:
        from .text import normalize_text

        return Extracted(text=normalize_text(source.input_text))
    if kind == Source.Kind.YOUTUBE:
        from .youtube import extract_youtube, parse_video_id

        try:
            video_id = parse_video_id(source.url)
        except ValueError as exc:
            raise ExtractionError(str(exc)) from exc
        return extract_youtube(video_id, speech=_speech_reader(keep_part))
    if not source.file:
        raise ExtractionError("The source has no uploaded file.")
    try:
        handle = source.file.open("rb")
    except FileNotFoundError as exc:
        raise ExtractionError("The uploaded file is missing from storage; upload it again.") from exc
    with handle:
        if kind == Source.Kind.PDF:
            from .pdf import pdf_to_text

            return pdf_to_text(handle)
        if kind == Source.Kind.CAPTIONS:
            from .captions import captions_to_text

            return captions_to_text(handle.read(), filename=source.original_filename)
        if kind == Source.Kind.AUDIO:
            filename = _audio_filename(handle)
            # The upload may live in remote storage: a local copy, deleted after.
            with tempfile.TemporaryDirectory(prefix="studynaut-audio-") as directory:
                path = Path(directory) / filename
                with path.open("wb") as local:
                    with contextlib.suppress(AttributeError, OSError, ValueError):
                        handle.seek(0)
                    shutil.copyfileobj(handle, local, length=1024 * 1024)
                return _speech_reader(keep_part)(path, filename=filename)
    raise ExtractionError(f"Sources of kind {kind} cannot be extracted.")
