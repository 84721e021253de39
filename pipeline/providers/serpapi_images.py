"""Images from Google Images through SerpAPI (the google-search-results package).

google-search-results 2.4.2 requests ``{BACKEND}/search?...&output=json``
with ``requests.get(url, params, timeout=self.timeout)``; ``BACKEND`` is a
class attribute (``https://serpapi.com``) that we set per instance from
``SERPAPI_BASE_URL``, and ``timeout`` is set from ``PROVIDER_TIMEOUT``
(GoogleSearch does not pass one through; the package default is 60 000 s).
We call ``get_response()`` rather than ``get_dict()`` to see the HTTP status.

The API key travels in the query string, so no exception text from requests
ever reaches a message (it contains the URL) and every message is scrubbed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .base import ProviderError
from .openai_ai import parse_retry_after, scrub

logger = logging.getLogger(__name__)

NAME = "serpapi"
MAX_URL_LENGTH = 2000
_FORBIDDEN_IN_URL = set(" \t\r\n\"'<>\\`{}|^")


def usable_image_url(value: object) -> str | None:
    """``value`` if it is a well-formed absolute http(s) URL we may put in a note, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if any(ch in _FORBIDDEN_IN_URL or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.netloc or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if port is not None and not (0 < port < 65536):
        return None
    return value


def pick_image(results: list) -> str | None:
    """The first usable https ``original``; an http one only if there is no https one."""
    fallback = None
    for result in results:
        if not isinstance(result, dict):
            continue
        url = usable_image_url(result.get("original"))
        if url is None:
            continue
        if urlsplit(url).scheme == "https":
            return url
        fallback = fallback or url
    return fallback


class SerpAPIImageProvider:
    name = NAME

    def find_image(self, *, description: str, query: str, context: str = "") -> str:
        from serpapi import GoogleSearch

        key = settings.SERPAPI_API_KEY
        if not key:
            raise ProviderError("SerpAPI is not configured (SERPAPI_API_KEY is empty)", provider=NAME)
        query = " ".join((query or "").split()) or " ".join((description or "").split())
        query = query[:200]
        if not query:
            raise ProviderError("nothing to search for (empty query)", provider=NAME)

        def fail(message: str, *, transient: bool, retry_after: float | None = None) -> ProviderError:
            return ProviderError(
                scrub(message, key), transient=transient, retry_after=retry_after, provider=NAME
            )

        search = GoogleSearch(
            {"engine": "google_images", "q": query, "safe": "active", "api_key": key, "ijn": 0}
        )
        if settings.SERPAPI_BASE_URL:
            search.BACKEND = settings.SERPAPI_BASE_URL.rstrip("/")
        search.timeout = float(settings.PROVIDER_TIMEOUT)
        search.params_dict["output"] = "json"
        try:
            response = search.get_response()
        except requests.Timeout:
            raise fail("SerpAPI did not answer in time", transient=True) from None
        except requests.ConnectionError:
            raise fail("could not connect to SerpAPI", transient=True) from None
        except requests.RequestException as exc:
            raise fail(f"SerpAPI request failed ({type(exc).__name__})", transient=True) from None

        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        message = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
        detail = f": {message[:200]}" if message else ""
        if status == 429:
            raise fail(
                f"SerpAPI rate limit (HTTP 429){detail}",
                transient=True,
                retry_after=parse_retry_after(response.headers),
            )
        if status >= 500:
            raise fail(f"SerpAPI server error (HTTP {status}){detail}", transient=True)
        if status >= 400:
            raise fail(f"SerpAPI rejected the request (HTTP {status}){detail}", transient=False)
        if body is None:
            raise fail("SerpAPI answered with something that is not JSON", transient=True)
        if not isinstance(body, dict):
            raise fail("SerpAPI answered with an unexpected JSON value", transient=True)
        if message:
            lowered = message.lower()
            limited = "rate" in lowered or "limit" in lowered or "too many" in lowered
            raise fail(f"SerpAPI error: {message[:200]}", transient=limited)
        results = body.get("images_results")
        url = pick_image(results if isinstance(results, list) else [])
        if url is None:
            raise fail(f"no usable image found for {query!r}", transient=False)
        return url
