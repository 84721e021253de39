"""YouTube: strict video URL parsing and transcripts via youtube-transcript-api.

Only real YouTube video addresses (or a bare 11-character id) are accepted;
nothing else is ever fetched, and what is fetched is always rebuilt from the
id (``canonical_url``), never the user's URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import ParseError

import requests
from django.conf import settings

from .base import Extracted, ExtractionError

logger = logging.getLogger(__name__)

VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_SHORT_HOSTS = {"youtu.be"}
_NOCOOKIE_HOSTS = {"youtube-nocookie.com", "www.youtube-nocookie.com"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_ID = re.compile(r"/(shorts|embed|live)/([A-Za-z0-9_-]{11})/?")
_NOT_YOUTUBE = (
    "Not a YouTube video link: give a youtube.com/watch?v=..., youtu.be/... link or an 11-character video id."
)


def parse_video_id(value: str) -> str:
    """The 11-character id of a YouTube video link or bare id; ValueError otherwise.

    Accepted: ``http(s)://(www.|m.|music.)youtube.com/watch?v=ID`` (other
    parameters allowed), ``youtu.be/ID``, ``youtube.com/shorts/ID``,
    ``youtube.com/embed/ID``, ``youtube.com/live/ID``,
    ``youtube-nocookie.com/embed/ID`` and a bare ``ID``. Everything else
    (other hosts and look-alikes, credentials, IP addresses, non-default
    ports, other schemes, ids of the wrong shape) is rejected.
    """
    if not isinstance(value, str):
        raise ValueError(_NOT_YOUTUBE)
    value = value.strip()
    if not value or len(value) > 2000:
        raise ValueError(_NOT_YOUTUBE)
    if VIDEO_ID.fullmatch(value):
        return value
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in value):
        raise ValueError(_NOT_YOUTUBE)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(_NOT_YOUTUBE) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(_NOT_YOUTUBE)
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ValueError(_NOT_YOUTUBE)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        raise ValueError(_NOT_YOUTUBE)
    host = (parts.hostname or "").lower()
    path = parts.path

    if host in _YOUTUBE_HOSTS:
        if path in ("/watch", "/watch/"):
            ids = parse_qs(parts.query, keep_blank_values=True).get("v", [])
            if len(ids) == 1 and VIDEO_ID.fullmatch(ids[0]):
                return ids[0]
            raise ValueError("This YouTube link has no valid video id (v=...).")
        if host != "music.youtube.com" and (match := _PATH_ID.fullmatch(path)):
            return match.group(2)
    elif host in _SHORT_HOSTS:
        if match := re.fullmatch(r"/([A-Za-z0-9_-]{11})/?", path):
            return match.group(1)
    elif host in _NOCOOKIE_HOSTS:
        if (match := _PATH_ID.fullmatch(path)) and match.group(1) == "embed":
            return match.group(2)
    raise ValueError(_NOT_YOUTUBE)


def canonical_url(video_id: str) -> str:
    if not VIDEO_ID.fullmatch(video_id or ""):
        raise ValueError("Not a YouTube video id.")
    return f"https://www.youtube.com/watch?v={video_id}"


class _TimeoutSession(requests.Session):
    """A Session whose requests time out (requests' default is to wait forever)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


def _language_variants(languages: list[str]) -> list[str]:
    """``["en-US", "de"]`` -> ``["en-US", "de", "en"]``: preferred codes, then their base languages."""
    variants: list[str] = []
    for code in languages + [code.split("-")[0] for code in languages]:
        if code and code not in variants:
            variants.append(code)
    return variants


def _join_snippets(snippets) -> Extracted:
    """One text: snippets joined by spaces, a paragraph break after a pause of
    3 s or more, each paragraph anchored at its first snippet's start."""
    from .captions import join_timed

    paragraphs: list[tuple[float, list[str]]] = []
    previous_end = None
    for snippet in snippets:
        text = " ".join(str(snippet.text).split())
        if not text:
            continue
        if not paragraphs or (previous_end is not None and snippet.start - previous_end >= 3.0):
            paragraphs.append((float(snippet.start), []))
        paragraphs[-1][1].append(text)
        previous_end = snippet.start + (snippet.duration or 0)
    return join_timed([(start, " ".join(words)) for start, words in paragraphs if words])


def fetch_transcript(
    video_id: str,
    *,
    languages: list[str] | None = None,
    http_client: requests.Session | None = None,
) -> Extracted:
    """The transcript of a video as plain text, anchored at its times.

    Prefers ``languages`` (default ``YOUTUBE_LANGUAGES``), manual captions
    before generated ones; else any transcript, translated to the first
    preferred language when YouTube offers that, else as it is. Raises
    ExtractionError: permanent when the video has no usable transcript,
    transient for blocks and network errors.
    """
    from youtube_transcript_api import YouTubeTranscriptApi, YouTubeTranscriptApiException

    if not VIDEO_ID.fullmatch(video_id or ""):
        raise ExtractionError("Not a YouTube video id.")
    preferred = list(languages or settings.YOUTUBE_LANGUAGES or ["en"])
    if http_client is None:
        http_client = _TimeoutSession(float(settings.PROVIDER_TIMEOUT))
    try:
        api = YouTubeTranscriptApi(http_client=http_client)
        transcripts = api.list(video_id)
        transcript = _choose(transcripts, preferred)
        fetched = transcript.fetch()
    except (YouTubeTranscriptApiException, requests.RequestException, ParseError) as exc:
        raise _map_error(exc) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # An answer of an unexpected shape (YouTube changes its pages now and then).
        logger.warning("unexpected YouTube answer for %s: %s", video_id, type(exc).__name__)
        raise ExtractionError("YouTube answered with a page we could not read.", transient=True) from None
    extracted = _join_snippets(fetched)
    if not extracted.text:
        raise ExtractionError("This video has no transcript we can use: the transcript is empty.")
    return extracted


def _choose(transcripts, preferred: list[str]):
    from youtube_transcript_api import NoTranscriptFound

    variants = _language_variants(preferred)
    try:
        return transcripts.find_transcript(variants)
    except NoTranscriptFound:
        pass
    available = list(transcripts)
    if not available:
        raise NoTranscriptFound(transcripts.video_id, variants, transcripts)
    transcript = available[0]
    if transcript.is_translatable:
        offered = {language.language_code for language in transcript.translation_languages}
        for code in variants:
            if code in offered:
                return transcript.translate(code)
    return transcript


def _map_error(exc: Exception) -> ExtractionError:
    import youtube_transcript_api as yta

    def unusable(reason: str) -> ExtractionError:
        return ExtractionError(f"This video has no transcript we can use: {reason}", transient=False)

    if isinstance(exc, yta.RequestBlocked):  # IpBlocked too
        return ExtractionError(
            "YouTube is refusing our requests for now (too many requests or a blocked address); "
            "try again later.",
            transient=True,
        )
    if isinstance(exc, yta.TranscriptsDisabled):
        return unusable("subtitles are disabled for this video.")
    if isinstance(exc, yta.NoTranscriptFound):
        return unusable("no transcript is available for it.")
    if isinstance(exc, yta.AgeRestricted):
        return unusable("the video is age-restricted.")
    if isinstance(exc, yta.VideoUnavailable | yta.InvalidVideoId):
        return unusable("the video is unavailable.")
    if isinstance(exc, yta.VideoUnplayable):
        reason = getattr(exc, "reason", None) or "it cannot be played here"
        return unusable(f"the video is unplayable ({str(reason)[:120]}).")
    if isinstance(exc, yta.PoTokenRequired | yta.NotTranslatable | yta.TranslationLanguageNotAvailable):
        return unusable("YouTube does not let us download its transcript.")
    if isinstance(exc, yta.YouTubeRequestFailed):
        reason = str(getattr(exc, "reason", ""))
        client_error = re.match(r"4\d\d ", reason) and not reason.startswith("429")
        return ExtractionError(
            f"YouTube request failed ({reason.split(' for url')[0][:80] or 'HTTP error'}).",
            transient=not client_error,
        )
    if isinstance(exc, yta.FailedToCreateConsentCookie):
        return ExtractionError(
            "YouTube asked for a cookie consent we could not give; try again later.", transient=True
        )
    if isinstance(exc, yta.YouTubeDataUnparsable):
        return ExtractionError("YouTube answered with a page we could not read.", transient=True)
    if isinstance(exc, requests.Timeout):
        return ExtractionError("YouTube did not answer in time; try again later.", transient=True)
    if isinstance(exc, requests.RequestException):
        return ExtractionError("Could not reach YouTube; try again later.", transient=True)
    if isinstance(exc, ParseError):  # a timedtext answer that is not XML
        return ExtractionError("YouTube returned a transcript we could not read.", transient=True)
    if isinstance(exc, yta.CouldNotRetrieveTranscript):
        return unusable(f"{type(exc).__name__}.")
    return ExtractionError(f"Could not fetch the transcript ({type(exc).__name__}).", transient=True)
