"""YouTube: strict video URL parsing, transcripts via youtube-transcript-api,
and the whole extraction of a YOUTUBE source (``extract_youtube``).

Only real YouTube video addresses (or a bare 11-character id) are accepted;
nothing else is ever fetched, and what is fetched is always rebuilt from the
id (``canonical_url``), never the user's URL.

A video's text: its metadata first (``ytdlp.fetch_video_info``: title,
duration, chapters; a video over ``YOUTUBE_MAX_DURATION`` is refused before
anything else is downloaded), then its transcript; when it has none we can
use and a transcription provider is configured, its audio is downloaded and
transcribed (``ytdlp.download_audio``, ``audio.transcribe_file``). Chapters
become ``## Title`` lines at their place in the text, anchored at their
start second.

``YOUTUBE_PROXY_URL`` (``http(s)://[user:password@]host:port``) sends every
request of both libraries through that proxy, each by its own proxy option.
Its credentials are secret: ``redact`` takes them out of every text we log
or raise, and no message ever repeats the setting's value.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree.ElementTree import ParseError

import requests
from django.conf import settings

from .base import Anchor, Chapter, Extracted, ExtractionError, Speech, SpeechReader

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


# --- settings ------------------------------------------------------------------------------


def _proxy_setting() -> str:
    return settings.YOUTUBE_PROXY_URL


def proxy_url() -> str | None:
    """``YOUTUBE_PROXY_URL``: the proxy every YouTube request goes through, or
    None. Raises a permanent ExtractionError when it is not an http(s) URL
    with a host (without repeating it: it may hold a password)."""
    value = _proxy_setting()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ExtractionError(
            "YOUTUBE_PROXY_URL is not a proxy address we can use: "
            "give http://host:port or https://host:port, with user:password@ before the host if needed."
        )
    return value


def max_duration_seconds() -> float:
    """``YOUTUBE_MAX_DURATION``: longer videos are refused before any download."""
    return float(settings.YOUTUBE_MAX_DURATION)


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")


def redact(text: str) -> str:
    """``text`` without the proxy's credentials: the configured URL, its
    password (as written and URL-decoded; the user name when there is no
    password) and any ``user:password@`` of a URL."""
    value = _proxy_setting()
    if value:
        try:
            parts = urlsplit(value)
            # Some proxy services take the key as the user name alone.
            password = parts.password if parts.password is not None else parts.username
        except ValueError:
            password = None
        secrets = [value, password, unquote(password or "")]
        for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
    return _USERINFO.sub(r"\1[redacted]@", text)


def blocked_error() -> ExtractionError:
    """YouTube refuses our requests (bot check, HTTP 429): transient, and the
    way out is named."""
    if _proxy_setting():
        advice = "try again later, or use another proxy in YOUTUBE_PROXY_URL."
    else:
        advice = "try again later, or set YOUTUBE_PROXY_URL to route YouTube requests through a proxy."
    return ExtractionError(
        f"YouTube is refusing our requests for now (too many requests or a blocked address); {advice}",
        transient=True,
    )


# --- transcripts --------------------------------------------------------------------------


class NoTranscript(ExtractionError):
    """The video has no transcript we can use (``reason`` says why); its audio may still be."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This video has no transcript we can use: {reason}", transient=False)
        self.reason = reason


class _TimeoutSession(requests.Session):
    """A Session whose requests time out (requests' default is to wait forever)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        if self.proxies:
            # requests lets HTTP(S)_PROXY from the environment win over a
            # Session's proxies (psf/requests#2018); given with each request,
            # YOUTUBE_PROXY_URL stays in charge.
            kwargs.setdefault("proxies", dict(self.proxies))
        return super().request(method, url, **kwargs)


def _language_variants(languages: list[str]) -> list[str]:
    """``["en-US", "de"]`` -> ``["en-US", "de", "en"]``: preferred codes, then their base languages."""
    variants: list[str] = []
    for code in languages + [code.split("-")[0] for code in languages]:
        if code and code not in variants:
            variants.append(code)
    return variants


# A caption that starts up to this long before a chapter's start belongs to
# it (chapter marks are rounded to the second; speech is not).
CHAPTER_TOLERANCE_SECONDS = 0.5


def _join_snippets(snippets, *, breaks: Sequence[float] = ()) -> Extracted:
    """One text: snippets joined by spaces, a paragraph break after a pause of
    3 s or more and at each of ``breaks`` (seconds: chapter starts), each
    paragraph anchored at its first snippet's start."""
    from .captions import join_timed

    pending_breaks = sorted(float(second) - CHAPTER_TOLERANCE_SECONDS for second in breaks)
    paragraphs: list[tuple[float, list[str]]] = []
    previous_end = None
    for snippet in snippets:
        text = " ".join(str(snippet.text).split())
        if not text:
            continue
        start = float(snippet.start)
        crossed = False
        while pending_breaks and start >= pending_breaks[0]:
            pending_breaks.pop(0)
            crossed = True
        if not paragraphs or crossed or (previous_end is not None and start - previous_end >= 3.0):
            paragraphs.append((start, []))
        paragraphs[-1][1].append(text)
        previous_end = start + (snippet.duration or 0)
    return join_timed([(start, " ".join(words)) for start, words in paragraphs if words])


def _transcript_api(http_client: requests.Session | None):
    from youtube_transcript_api import YouTubeTranscriptApi
    from youtube_transcript_api.proxies import GenericProxyConfig

    proxy = proxy_url()
    if http_client is None:
        http_client = _TimeoutSession(float(settings.PROVIDER_TIMEOUT))
    config = GenericProxyConfig(http_url=proxy, https_url=proxy) if proxy else None
    return YouTubeTranscriptApi(proxy_config=config, http_client=http_client)


def fetch_transcript(
    video_id: str,
    *,
    languages: list[str] | None = None,
    http_client: requests.Session | None = None,
    paragraph_breaks: Sequence[float] = (),
) -> Extracted:
    """The transcript of a video as plain text, anchored at its times, a new
    paragraph at each of ``paragraph_breaks`` (seconds).

    Prefers ``languages`` (default ``YOUTUBE_LANGUAGES``), manual captions
    before generated ones; else any transcript, translated to the first
    preferred language when YouTube offers that, else as it is. Raises
    NoTranscript when the video has no usable transcript, else
    ExtractionError: permanent for an unavailable video, transient for
    blocks and network errors.
    """
    from youtube_transcript_api import YouTubeTranscriptApiException

    if not VIDEO_ID.fullmatch(video_id or ""):
        raise ExtractionError("Not a YouTube video id.")
    preferred = list(languages or settings.YOUTUBE_LANGUAGES or ["en"])
    try:
        api = _transcript_api(http_client)
        transcripts = api.list(video_id)
        transcript = _choose(transcripts, preferred)
        fetched = transcript.fetch()
    except (YouTubeTranscriptApiException, requests.RequestException, ParseError) as exc:
        raise _map_error(exc) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # An answer of an unexpected shape (YouTube changes its pages now and then).
        logger.warning("unexpected YouTube answer for %s: %s", video_id, type(exc).__name__)
        raise ExtractionError("YouTube answered with a page we could not read.", transient=True) from None
    extracted = _join_snippets(fetched, breaks=paragraph_breaks)
    if not extracted.text:
        raise NoTranscript("the transcript is empty.")
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
        return blocked_error()
    if isinstance(exc, yta.TranscriptsDisabled):
        return NoTranscript("subtitles are disabled for this video.")
    if isinstance(exc, yta.NoTranscriptFound):
        return NoTranscript("no transcript is available for it.")
    if isinstance(exc, yta.PoTokenRequired | yta.NotTranslatable | yta.TranslationLanguageNotAvailable):
        return NoTranscript("YouTube does not let us download its transcript.")
    if isinstance(exc, yta.AgeRestricted):
        return unusable("the video is age-restricted.")
    if isinstance(exc, yta.VideoUnavailable | yta.InvalidVideoId):
        return unusable("the video is unavailable.")
    if isinstance(exc, yta.VideoUnplayable):
        reason = redact(str(getattr(exc, "reason", None) or "it cannot be played here"))
        return unusable(f"the video is unplayable ({reason[:120]}).")
    if isinstance(exc, yta.YouTubeRequestFailed):
        reason = redact(str(getattr(exc, "reason", "")))
        if reason.startswith("429"):
            return blocked_error()
        client_error = re.match(r"4\d\d ", reason)
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
    if isinstance(exc, requests.exceptions.ProxyError):
        return proxy_unreachable_error(str(exc))
    if isinstance(exc, requests.Timeout):
        return ExtractionError("YouTube did not answer in time; try again later.", transient=True)
    if isinstance(exc, requests.RequestException):
        return ExtractionError("Could not reach YouTube; try again later.", transient=True)
    if isinstance(exc, ParseError):  # a timedtext answer that is not XML
        return ExtractionError("YouTube returned a transcript we could not read.", transient=True)
    if isinstance(exc, yta.CouldNotRetrieveTranscript):
        return unusable(f"{type(exc).__name__}.")
    return ExtractionError(f"Could not fetch the transcript ({type(exc).__name__}).", transient=True)


def proxy_unreachable_error(detail: str) -> ExtractionError:
    """The proxy itself failed: wrong credentials (permanent) or unreachable (transient)."""
    if re.search(r"\b407\b", detail):
        return ExtractionError(
            "The proxy in YOUTUBE_PROXY_URL refused our credentials (HTTP 407); check the user and password."
        )
    return ExtractionError(
        "Could not reach YouTube through the proxy in YOUTUBE_PROXY_URL; try again later.", transient=True
    )


# --- chapters ------------------------------------------------------------------------------


def _heading(title: str) -> str:
    return " ".join(str(title).split()).lstrip("#").strip()[:200]


def with_chapters(extracted: Extracted, chapters: Sequence[Chapter]) -> Extracted:
    """``extracted`` with a ``## Title`` line before the first timed phrase of
    each chapter, anchored at the chapter's start. A chapter in which nothing
    is said gets no heading (the next chapter's heading stands there)."""
    anchors = list(extracted.anchors)
    headings: dict[int, Chapter] = {}  # anchor index -> the chapter that starts there
    for chapter in sorted(chapters, key=lambda chapter: chapter.start_seconds):
        if not _heading(chapter.title):
            continue
        for index, anchor in enumerate(anchors):
            if (
                anchor.seconds is not None
                and anchor.seconds >= chapter.start_seconds - CHAPTER_TOLERANCE_SECONDS
            ):
                headings[index] = chapter
                break
    if not headings:
        return extracted
    text = extracted.text
    out = ""
    new_anchors: list[Anchor] = []
    copied = 0
    for index, anchor in enumerate(anchors):
        out += text[copied : anchor.offset]
        copied = anchor.offset
        if index in headings:
            chapter = headings[index]
            out = out.rstrip()
            if out:
                out += "\n\n"
            new_anchors.append(Anchor(len(out), seconds=round(chapter.start_seconds, 3)))
            out += f"## {_heading(chapter.title)}\n\n"
        new_anchors.append(Anchor(len(out), page=anchor.page, seconds=anchor.seconds))
    out += text[copied:]
    return Extracted(text=out, anchors=tuple(new_anchors), title=extracted.title)


# --- the whole extraction ---------------------------------------------------------------------


def extract_youtube(video_id: str, *, speech: SpeechReader | None = None) -> Extracted | Speech:
    """The text of a YouTube video (transcript, else transcribed audio), with
    its chapters as headings, anchored at its seconds, titled with its title.
    ``speech(path, filename)`` reads a downloaded audio (default: transcribed
    here, part after part); it may answer with the parts to transcribe in
    parallel instead (``Speech``), which then carry the title and chapters.
    Raises ExtractionError (``transient`` for what may work later)."""
    from .audio import transcription_configured
    from .ytdlp import fetch_video_info

    if not VIDEO_ID.fullmatch(video_id or ""):
        raise ExtractionError("Not a YouTube video id.")
    info = fetch_video_info(video_id)
    chapter_starts = [chapter.start_seconds for chapter in info.chapters]
    try:
        extracted = fetch_transcript(video_id, paragraph_breaks=chapter_starts)
    except NoTranscript as missing:
        if not transcription_configured():
            raise ExtractionError(
                f"This video has no captions we can use ({missing.reason.rstrip('.')}). "
                "With an OpenAI key (OPENAI_API_KEY), Studynaut would transcribe its audio instead."
            ) from None
        logger.info("no usable transcript for %s: transcribing its audio", video_id)
        spoken = transcribe_video_audio(video_id, speech=speech)
        if isinstance(spoken, Speech):
            return replace(spoken, title=info.title, chapters=tuple(info.chapters))
        extracted = spoken
    extracted = with_chapters(extracted, info.chapters)
    return Extracted(text=extracted.text, anchors=extracted.anchors, title=info.title)


def transcribe_video_audio(video_id: str, *, speech: SpeechReader | None = None) -> Extracted | Speech:
    """The transcribed audio of a video; the download is deleted afterwards, whatever happens."""
    from .audio import transcribe_file
    from .ytdlp import download_audio

    with tempfile.TemporaryDirectory(prefix="studynaut-youtube-") as directory:
        path = download_audio(video_id, directory=Path(directory))
        return (speech or transcribe_file)(path, filename=path.name)
