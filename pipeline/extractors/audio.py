"""Audio lectures to text with OpenAI speech-to-text (``OPENAI_TRANSCRIBE_MODEL``).

Uses the same SDK client, error mapping and shared rate limit as the OpenAI
AI provider. The request gets a longer timeout than a chat call:
``OPENAI_TRANSCRIBE_TIMEOUT`` if set, else 8 x ``PROVIDER_TIMEOUT``.
Retrying a transient failure is the extraction task's job.
"""

from __future__ import annotations

import io
from typing import IO

from django.conf import settings

from .base import Extracted, ExtractionError

MAX_AUDIO_BYTES = 25 * 1024 * 1024  # the OpenAI speech-to-text limit
TOO_LARGE = "audio files over 25 MB are not supported; split it"
NO_KEY = "This audio cannot be transcribed: audio needs a transcription provider (set OPENAI_API_KEY)."


def _size(fileobj: IO[bytes]) -> int | None:
    """The whole file's size, rewound to its start (the SDK uploads the whole file); None if unknown."""
    try:
        fileobj.seek(0, io.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(0)
        return size
    except (AttributeError, OSError, ValueError):
        size = getattr(fileobj, "size", None)  # Django's File and UploadedFile
        return size if isinstance(size, int) and size > MAX_AUDIO_BYTES else None


def transcribe_audio(fileobj: IO[bytes], *, filename: str) -> Extracted:
    """The spoken text of an audio file. Raises ExtractionError (``transient`` for retryable failures)."""
    import openai

    from pipeline import ratelimit
    from pipeline.providers.openai_ai import get_client, map_openai_error

    if not settings.OPENAI_API_KEY:
        raise ExtractionError(NO_KEY)
    size = _size(fileobj)
    if size is None:  # not seekable: read it, at most one byte over the limit
        data = fileobj.read(MAX_AUDIO_BYTES + 1)
        size, fileobj = len(data), io.BytesIO(data)
    if size > MAX_AUDIO_BYTES:
        raise ExtractionError(TOO_LARGE)
    if size == 0:
        raise ExtractionError("The audio file is empty.")
    timeout = getattr(settings, "OPENAI_TRANSCRIBE_TIMEOUT", None) or 8 * float(settings.PROVIDER_TIMEOUT)
    try:
        ratelimit.acquire(
            "openai", settings.OPENAI_RPM, max_wait=float(getattr(settings, "RATE_LIMIT_MAX_WAIT", 30.0))
        )
        client = get_client(timeout=float(timeout))
        result = client.audio.transcriptions.create(
            model=settings.OPENAI_TRANSCRIBE_MODEL,
            file=(filename or "audio", fileobj),
        )
    except openai.OpenAIError as exc:
        error = map_openai_error(exc, what="OpenAI speech-to-text")
        if error.transient and error.retry_after:
            ratelimit.pause("openai", error.retry_after)
        raise ExtractionError(f"Transcription failed: {error.message}", transient=error.transient) from None
    text = getattr(result, "text", None)
    if not isinstance(text, str) or not text.strip():
        raise ExtractionError("The audio contained no speech we could transcribe.")
    return Extracted(text=text.strip())
