"""A YouTube video's metadata and audio, with yt-dlp.

``fetch_video_info`` reads the title, duration and chapters (no media is
downloaded); ``download_audio`` saves the video's smallest audio-only format
into a directory the caller owns (and deletes).

yt-dlp can fetch from a thousand sites and run post-processors; here it is
held to one video of YouTube:

- it is only ever given ``canonical_url(video_id)``, rebuilt from an id that
  ``parse_video_id`` accepted, and its only extractor is YouTube's
  (``auto_init=False`` loads none of the others; the generic extractor that
  would follow any URL is never there), with no playlists;
- no cookies, no cache directory, no plugins (they would load from the
  user's home and ``sys.path``); the embedding API reads no configuration
  files (those are the command line's), so no ``ignoreconfig`` is needed;
- no post-processors and no fix-ups (``fixup: never``): the audio is
  transcribed as YouTube serves it;
- the audio format is chosen by our own selector: audio only, over plain
  HTTPS, from YouTube's own hosts, the smallest, and within
  ``YOUTUBE_MAX_AUDIO_BYTES`` (also enforced while downloading);
- ``YOUTUBE_PROXY_URL`` is yt-dlp's ``proxy``: all of its requests use it.

Its messages go to our log at debug level with the proxy's credentials
redacted; its errors become ExtractionErrors that say whether trying again
may help.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from .base import Chapter, ExtractionError
from .youtube import (
    blocked_error,
    canonical_url,
    max_duration_seconds,
    proxy_unreachable_error,
    proxy_url,
    redact,
)

logger = logging.getLogger(__name__)

# Where YouTube serves media from.
_MEDIA_HOST_SUFFIXES = (".googlevideo.com", ".youtube.com")


def max_audio_bytes() -> int:
    """``YOUTUBE_MAX_AUDIO_BYTES``: the largest audio download of one video."""
    return int(settings.YOUTUBE_MAX_AUDIO_BYTES)


@dataclass(frozen=True)
class VideoInfo:
    video_id: str
    title: str
    duration_seconds: float | None
    chapters: tuple[Chapter, ...] = ()
    is_live: bool = False


# --- yt-dlp, held short ------------------------------------------------------------------------


_warned: set[str] = set()


class _Log:
    """yt-dlp's logger interface, into ours, with the proxy's credentials redacted."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", redact(str(message)))

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", redact(str(message)))

    def warning(self, message: str) -> None:
        # The same advice comes with every video (a missing JS runtime): say it once.
        message = redact(str(message))
        if message in _warned:
            logger.debug("yt-dlp: %s", message)
        else:
            if len(_warned) < 100:
                _warned.add(message)
            logger.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        # The same error is raised too, and turned into an ExtractionError.
        logger.info("yt-dlp: %s", redact(str(message)))


class _AudioTooLarge(Exception):
    pass


def _ytdlp_failures() -> tuple[type[BaseException], ...]:
    from yt_dlp.utils import YoutubeDLError

    # yt-dlp's own errors (network ones included), and what a page of an
    # unexpected shape makes its parsers raise. Not the task's time limit.
    return (YoutubeDLError, KeyError, TypeError, ValueError, AttributeError, IndexError)


@contextlib.contextmanager
def _youtube_dl(**options: Any) -> Iterator[Any]:
    """A YoutubeDL that knows YouTube's extractor only (see the module's doc)."""
    import yt_dlp
    from yt_dlp import globals as yt_dlp_globals
    from yt_dlp.extractor.youtube import YoutubeIE

    # The command line's --no-plugin-dirs: no extractor or post-processor
    # plugins from the user's home or sys.path.
    yt_dlp_globals.plugin_dirs.value = []
    params: dict[str, Any] = {
        "logger": _Log(),
        "quiet": True,
        "noprogress": True,
        "noplaylist": True,
        "allowed_extractors": ["youtube"],
        "cachedir": False,
        "cookiefile": None,
        "geo_bypass": False,  # no made-up X-Forwarded-For addresses
        "socket_timeout": float(settings.PROVIDER_TIMEOUT),
        # Retries of blocked or failing pages are the pipeline's, with backoff;
        # a dropped media connection is resumed where it stopped.
        "extractor_retries": 0,
        "retries": 2,
        "file_access_retries": 0,
        "fixup": "never",
        "postprocessors": [],
        "writesubtitles": False,
        "writeautomaticsub": False,
        "writethumbnail": False,
        "writeinfojson": False,
        "updatetime": False,
        **options,
    }
    proxy = proxy_url()
    if proxy:
        params["proxy"] = proxy
    ydl = yt_dlp.YoutubeDL(params, auto_init=False)
    ydl.add_info_extractor(YoutubeIE())
    try:
        yield ydl
    finally:
        ydl.close()


def _extract(ydl: Any, video_id: str) -> dict:
    """The raw metadata of the video (no media downloaded)."""
    raw = ydl.extract_info(canonical_url(video_id), download=False, process=False, ie_key="Youtube")
    if not isinstance(raw, dict) or raw.get("_type", "video") != "video" or raw.get("id") != video_id:
        # YouTube answered with something other than this one video (a redirect, a playlist).
        raise ExtractionError("YouTube did not answer with this video; check the link.")
    return raw


def _video_info(raw: dict, video_id: str) -> VideoInfo:
    duration = raw.get("duration")
    chapters = []
    for item in raw.get("chapters") or []:
        start, title = item.get("start_time"), " ".join(str(item.get("title") or "").split())
        if isinstance(start, int | float) and title:
            chapters.append(Chapter(start_seconds=float(start), title=title[:200]))
    return VideoInfo(
        video_id=video_id,
        title=" ".join(str(raw.get("title") or "").split())[:255],
        duration_seconds=float(duration) if isinstance(duration, int | float) and duration > 0 else None,
        chapters=tuple(sorted(chapters, key=lambda chapter: chapter.start_seconds)),
        is_live=raw.get("live_status") in ("is_live", "is_upcoming", "post_live") or bool(raw.get("is_live")),
    )


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _check(info: VideoInfo) -> None:
    if info.is_live:
        raise ExtractionError("This is a live stream or an upcoming premiere; try again once it has ended.")
    limit = max_duration_seconds()
    if info.duration_seconds is not None and info.duration_seconds > limit:
        raise ExtractionError(
            f"This video is {_clock(info.duration_seconds)} long; videos longer than {_clock(limit)} "
            "are not processed (YOUTUBE_MAX_DURATION)."
        )


def fetch_video_info(video_id: str) -> VideoInfo:
    """The video's title, duration and chapters. Refuses (permanently) a live
    stream or a video over ``YOUTUBE_MAX_DURATION``. Raises ExtractionError."""
    failures = _ytdlp_failures()
    with _youtube_dl() as ydl:
        try:
            info = _video_info(_extract(ydl, video_id), video_id)
        except ExtractionError:
            raise
        except failures as exc:
            raise map_ytdlp_error(exc) from None
    _check(info)
    return info


# --- audio -----------------------------------------------------------------------------------


def _youtube_media(url: Any) -> bool:
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host.endswith(suffix) for suffix in _MEDIA_HOST_SUFFIXES)


def _size(fmt: dict) -> float:
    size = fmt.get("filesize") or fmt.get("filesize_approx")
    if isinstance(size, int | float):
        return float(size)
    return float(fmt.get("tbr") or fmt.get("abr") or 0) * 1e9  # unknown sizes after known ones


def _smallest_audio(ctx: dict) -> Iterator[dict]:
    """yt-dlp format selector: the smallest audio-only format, over plain
    HTTPS from YouTube's media hosts, within ``YOUTUBE_MAX_AUDIO_BYTES``."""
    audio = [
        fmt
        for fmt in ctx.get("formats") or []
        if fmt.get("vcodec") == "none"
        and fmt.get("acodec") not in (None, "none")
        and fmt.get("protocol") == "https"
        and not fmt.get("has_drm")
        and _youtube_media(fmt.get("url"))
    ]
    if not audio:
        return
    smallest = min(audio, key=_size)
    size = smallest.get("filesize")
    if isinstance(size, int | float) and size > max_audio_bytes():
        raise _AudioTooLarge
    yield smallest


def download_audio(video_id: str, *, directory: Path) -> Path:
    """Save the video's smallest audio-only format into ``directory`` (the
    caller deletes it) and return its path. Checks the duration first.
    Raises ExtractionError."""
    limit = max_audio_bytes()
    directory = Path(directory).resolve()

    def guard(status: dict) -> None:
        if (status.get("downloaded_bytes") or 0) > limit or (status.get("total_bytes") or 0) > limit:
            raise _AudioTooLarge

    options = {
        "format": _smallest_audio,
        "max_filesize": limit,
        "outtmpl": {"default": "audio.%(ext)s"},
        "paths": {"home": str(directory), "temp": str(directory)},
        "progress_hooks": [guard],
        "overwrites": True,
    }
    failures = _ytdlp_failures()
    with _youtube_dl(**options) as ydl:
        try:
            raw = _extract(ydl, video_id)
            _check(_video_info(raw, video_id))
            result = ydl.process_ie_result(raw, download=True)
        except ExtractionError:
            raise
        except _AudioTooLarge:
            raise _too_large(limit) from None
        except failures as exc:
            raise map_ytdlp_error(exc) from None
    paths = [Path(item.get("filepath") or "") for item in (result or {}).get("requested_downloads") or []]
    path = paths[0].resolve() if paths else None
    if path is None or not path.is_file() or path.parent != directory:
        # yt-dlp gives up quietly on a file over max_filesize.
        raise _too_large(limit)
    if path.stat().st_size > limit:
        raise _too_large(limit)
    return path


def _too_large(limit: int) -> ExtractionError:
    megabytes = f"{limit / (1024 * 1024):.1f}".removesuffix(".0")
    return ExtractionError(
        f"The video's audio is larger than {megabytes} MB (YOUTUBE_MAX_AUDIO_BYTES); it is not transcribed."
    )


# --- errors ------------------------------------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and those it wraps (yt-dlp keeps them in exc_info and cause)."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending and len(seen) < 10:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        exc_info = getattr(current, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            pending.append(exc_info[1])
        pending.extend([getattr(current, "cause", None), current.__cause__, current.__context__])
    return seen


def map_ytdlp_error(exc: BaseException) -> ExtractionError:
    """A yt-dlp failure as an ExtractionError: transient when trying again may
    help, with a short message free of the proxy's credentials."""
    from yt_dlp.networking.exceptions import HTTPError, ProxyError, TransportError
    from yt_dlp.utils import ExtractorError

    causes = _causes(exc)
    extractor_errors = [cause for cause in causes if isinstance(cause, ExtractorError)]
    message = " ".join(str(getattr(error, "orig_msg", None) or error) for error in extractor_errors)
    message = message or str(exc)
    lowered = message.lower()

    def unusable(reason: str) -> ExtractionError:
        return ExtractionError(f"This video cannot be processed: {reason}")

    for cause in causes:
        if isinstance(cause, ProxyError):
            return proxy_unreachable_error(str(cause))
        if isinstance(cause, HTTPError):
            if cause.status == 429:
                return blocked_error()
            if cause.status == 407:
                return proxy_unreachable_error("407")
            if cause.status >= 500 or cause.status in (403, 408):
                # 403 on media: an expired or refused download address.
                return ExtractionError(f"YouTube request failed (HTTP {cause.status}).", transient=True)
            return ExtractionError(f"YouTube request failed (HTTP {cause.status}).")
    if any(words in lowered for words in ("confirm your age", "age-restricted", "inappropriate for some")):
        return unusable("the video is age-restricted.")
    if "not a bot" in lowered or "try again later" in lowered or "rate-limited" in lowered:
        return blocked_error()
    if "private video" in lowered:
        return unusable("the video is private.")
    if "unavailable" in lowered or "removed" in lowered or "does not exist" in lowered:
        return unusable("the video is unavailable.")
    if "members" in lowered or "join this channel" in lowered or "premium" in lowered:
        return unusable("the video is for channel members or subscribers only.")
    if "live event" in lowered or "premieres in" in lowered:
        return unusable("the video is a live event that has not started yet.")
    if "drm" in lowered:
        return unusable("the video is protected (DRM).")
    if "requested format is not available" in lowered:
        return unusable("YouTube offers no audio we can download for it.")
    for cause in causes:
        if isinstance(cause, TransportError):
            if "timed out" in str(cause).lower():
                return ExtractionError("YouTube did not answer in time; try again later.", transient=True)
            return ExtractionError("Could not reach YouTube; try again later.", transient=True)
    if any(getattr(cause, "expected", False) for cause in extractor_errors):
        detail = redact(message).replace("\n", " ").strip()
        return unusable(f"{detail[:160]}")
    # Most often YouTube changed its pages and yt-dlp needs an update; or a blip.
    logger.warning("unexpected yt-dlp failure: %s", redact(message)[:300])
    return ExtractionError("YouTube answered with a page we could not read; try again later.", transient=True)
