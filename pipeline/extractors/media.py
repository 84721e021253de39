"""Audio files on the worker's disk: how long they are, and cutting a part out.

Why ffmpeg (Debian's ``ffmpeg`` package, run as ``ffprobe`` and ``ffmpeg``
child processes): the audio to cut comes as MP3, M4A/AAC, WebM/Opus (what
YouTube serves), Ogg, FLAC or WAV. Pure-Python decoding covers only part
of that (``wave`` reads WAV alone; miniaudio adds MP3, FLAC and Vorbis, but
neither AAC nor Opus), while ffmpeg reads them all, is kept up to date by
the distribution's security updates, and runs in its own process: a file
that crashes a decoder cannot take the worker down, and a time limit ends
it. It is only needed for audio over the transcription provider's upload
limit; smaller files are sent as they are.

The files are untrusted uploads, so ffmpeg may read the one local file it
is given and nothing else: only the ``file`` protocol, and only the demuxers
of plain audio files (no playlists, no concat lists, no image sequences,
which could make it open other files or URLs).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from .base import ExtractionError

logger = logging.getLogger(__name__)

# Demuxers of plain audio files. "mov" covers mp4/m4a, "matroska" webm.
AUDIO_DEMUXERS = "mp3,mov,matroska,ogg,wav,flac,aac,asf,amr,aiff,caf,w64"
_SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", AUDIO_DEMUXERS]

# Parts are sent as mono MP3 at 16 kHz (what speech recognition models work
# at), 32 kbit/s: 4 000 bytes a second, 25 MB hold over an hour and a half.
PART_SAMPLE_RATE = 16_000
PART_BITRATE = 32_000
PART_BYTES_PER_SECOND = PART_BITRATE // 8
PART_EXTENSION = "mp3"

PROBE_TIMEOUT = 60.0
NOT_AUDIO = "The file is not audio we can read (MP3, M4A, WebM, Ogg, FLAC or WAV)."


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ExtractionError(
            f"Audio this long has to be split before transcription, and the worker lacks {name} "
            "(install the ffmpeg package)."
        )
    return path


def _run(args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    try:
        # An exception here (a timeout, the task's time limit) kills the child first.
        return subprocess.run(
            args, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ExtractionError("Reading the audio took too long; try again later.", transient=True) from None


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:200] if lines else ""


def audio_duration(path: Path) -> float:
    """The length of the audio file in seconds. Raises ExtractionError when it is not audio."""
    result = _run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            *_SAFE_INPUT,
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            str(path),
        ],
        timeout=PROBE_TIMEOUT,
    )
    try:
        duration = float(result.stdout.decode().strip())
    except ValueError:
        logger.info("ffprobe could not read an audio file: %s", _last_line(result.stderr))
        raise ExtractionError(NOT_AUDIO) from None
    if result.returncode != 0 or not duration > 0:
        raise ExtractionError(NOT_AUDIO)
    return duration


def cut_audio(path: Path, *, start_seconds: float, duration_seconds: float | None, destination: Path) -> Path:
    """Write ``duration_seconds`` (None: all the rest) of ``path`` from
    ``start_seconds`` on to ``destination`` as a small mono MP3
    (``PART_BYTES_PER_SECOND``)."""
    length = ["-t", f"{duration_seconds:.3f}"] if duration_seconds is not None else []
    result = _run(
        [
            _tool("ffmpeg"),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            *_SAFE_INPUT,
            "-ss",
            f"{start_seconds:.3f}",
            *length,
            "-i",
            str(path),
            "-vn",
            "-map_metadata",
            "-1",
            "-ac",
            "1",
            "-ar",
            str(PART_SAMPLE_RATE),
            "-c:a",
            "libmp3lame",
            "-b:a",
            str(PART_BITRATE),
            "-f",
            "mp3",
            str(destination),
        ],
        # Encoding runs far faster than real time; this only stops a stuck process.
        timeout=PROBE_TIMEOUT + (duration_seconds or 3600.0),
    )
    if result.returncode != 0 or not destination.exists():
        logger.info("ffmpeg could not cut an audio file: %s", _last_line(result.stderr))
        raise ExtractionError(NOT_AUDIO)
    return destination
