"""Text of a source, whatever its kind."""

from notes.models import Source

from .base import Extracted, ExtractionError


def _audio_filename(handle) -> str:
    """A file name whose extension matches the audio's bytes: the speech API
    reads the format from it, and the client's name may be wrong or absent."""
    import filetype

    head = handle.read(8192)
    handle.seek(0)
    return f"lecture.{filetype.guess_extension(head) or 'mp3'}"


def extract_text(source: Source) -> Extracted:
    """Extract the plain text of a source, with its map back to the source.
    Raises ExtractionError."""
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
        return extract_youtube(video_id)
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
            from .audio import transcribe_audio

            return transcribe_audio(handle, filename=_audio_filename(handle))
    raise ExtractionError(f"Sources of kind {kind} cannot be extracted.")
