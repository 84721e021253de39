"""Choosing providers from settings, and calling them with retries, fallback
and the shared rate limit (acquired here and nowhere else).

The policy (SPEC section 3): a transient failure (timeout, connection error,
HTTP 429 or 5xx) retries the same provider up to ``PROVIDER_MAX_RETRIES``
times with exponential backoff and jitter; any other failure, or an answer
that does not match the call's schema, moves on to the next provider at
once. Every attempt at a network provider first takes a token from the
shared requests-per-minute limit (``pipeline.ratelimit``); a 429 with
Retry-After pauses that provider for all workers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, Terminated, WorkerLostError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from pydantic import BaseModel, ValidationError

from pipeline import chunking, ratelimit

from .base import AICall, AIProvider, Completion, ImageProvider, ProviderError
from .schemas import SCHEMAS

logger = logging.getLogger(__name__)

# Tests may replace these.
sleep = time.sleep
_random = random.Random()

AI_PROVIDER_NAMES = ("openai", "local")
IMAGE_PROVIDER_NAMES = ("serpapi", "offline")

# Called after every attempt: on_attempt(provider_name, attempt_number_from_1, error_or_None).
OnAttempt = Callable[[str, int, "Exception | None"], None]


# --- choosing ----------------------------------------------------------------------------


def _custom_provider(name: str, setting: str, known: tuple[str, ...]):
    """A provider class named by its dotted path ("package.module.Class"):
    another vendor's adapter, or a test double, without changing this module."""
    if "." not in name:
        raise ImproperlyConfigured(f"Unknown provider {name!r} in {setting}; choose from {', '.join(known)}.")
    try:
        return import_string(name)()
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting}: cannot import the provider {name!r} ({exc}).") from exc


def make_ai_provider(name: str) -> AIProvider:
    if name == "openai":
        from .openai_ai import OpenAIProvider

        return OpenAIProvider()
    if name == "local":
        from .local import LocalAIProvider

        return LocalAIProvider()
    return _custom_provider(name, "AI_PROVIDERS", AI_PROVIDER_NAMES)


def ai_providers() -> list[AIProvider]:
    """The AI providers of ``AI_PROVIDERS``, in order (fresh instances)."""
    names = list(settings.AI_PROVIDERS)
    if not names:
        raise ImproperlyConfigured("AI_PROVIDERS must name at least one provider.")
    return [make_ai_provider(name) for name in names]


def image_provider() -> ImageProvider:
    """The image provider of ``IMAGE_PROVIDER``."""
    name = settings.IMAGE_PROVIDER
    if name == "serpapi":
        from .serpapi_images import SerpAPIImageProvider

        return SerpAPIImageProvider()
    if name == "offline":
        from .offline_images import OfflineImageProvider

        return OfflineImageProvider()
    return _custom_provider(name, "IMAGE_PROVIDER", IMAGE_PROVIDER_NAMES)


# Requests-per-minute setting of each network provider (the others are not limited).
_RPM_SETTINGS = {"openai": "OPENAI_RPM", "serpapi": "SERPAPI_RPM"}


def _rpm(name: str) -> int:
    setting = _RPM_SETTINGS.get(name)
    return int(getattr(settings, setting)) if setting else 0


def acquire(name: str) -> None:
    """Take a token of ``name``'s shared requests-per-minute limit, waiting up
    to RATE_LIMIT_MAX_WAIT; raises RateLimited when there is no room for
    longer (the step's task then comes back later). Every request to a
    network provider, transcription included, goes through here."""
    rpm = _rpm(name)
    if rpm:
        ratelimit.acquire(name, rpm, max_wait=float(settings.RATE_LIMIT_MAX_WAIT))


def primary_max_input_chars() -> int | None:
    """How much text the first AI provider takes in one call (None: any
    amount). A longer text is analyzed in chunks."""
    return getattr(ai_providers()[0], "max_input_chars", None)


def overlap_ai_calls() -> bool:
    """Two AI calls at once pay off when they wait on a network provider; the
    offline ``local`` provider computes in Python, where a second thread gains
    nothing (one interpreter lock) and the calls stay in turn."""
    providers = list(settings.AI_PROVIDERS)
    return bool(providers) and providers[0] != "local"


# --- the retry policy --------------------------------------------------------------------


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (0-based).

    ``PROVIDER_BACKOFF_BASE * 2**attempt`` with jitter (x0.5 to x1.5), at
    least the server's ``retry_after``, never more than ``PROVIDER_BACKOFF_MAX``
    (a longer Retry-After is enforced by ``ratelimit.pause`` instead).
    """
    base = float(settings.PROVIDER_BACKOFF_BASE)
    cap = float(settings.PROVIDER_BACKOFF_MAX)
    delay = base * (2 ** min(attempt, 30)) * _random.uniform(0.5, 1.5)
    if retry_after:
        delay = max(delay, float(retry_after))
    return max(0.0, min(cap, delay))


def _must_propagate(exc: BaseException) -> bool:
    """Celery's time limits and shutdowns, and running out of memory, are not
    failures of a provider: the task handles them."""
    return isinstance(exc, SoftTimeLimitExceeded | Terminated | WorkerLostError | MemoryError)


def _short(exc: Exception) -> str:
    if isinstance(exc, ProviderError):
        return exc.message
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "answer"
        return (
            f"answer did not match the schema ({exc.error_count()} errors; {where}: {first.get('msg', '')})"
        )
    return f"unexpected error ({type(exc).__name__})"


def _attempts(
    name: str,
    call: Callable[[], Any],
    *,
    on_attempt: OnAttempt | None,
    validate: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``call`` with the retry policy for one provider; raise its last error."""
    tries = 1 + max(0, int(settings.PROVIDER_MAX_RETRIES))
    rpm = _rpm(name)
    last: Exception | None = None
    for attempt in range(tries):
        error: Exception | None = None
        try:
            acquire(name)
            result = call()
            if validate is not None:
                result = validate(result)
        except ProviderError as exc:
            error = exc
        except ValidationError as exc:
            error = exc
        except Exception as exc:
            if _must_propagate(exc):
                raise
            logger.exception("provider %s failed unexpectedly", name)
            error = exc
        if on_attempt is not None:
            on_attempt(name, attempt + 1, error)
        if error is None:
            return result
        last = error
        transient = isinstance(error, ProviderError) and error.transient
        logger.warning(
            "provider %s attempt %d/%d failed (%s): %s",
            name,
            attempt + 1,
            tries,
            "transient" if transient else "permanent",
            _short(error),
        )
        if not transient or attempt + 1 >= tries:
            break
        retry_after = error.retry_after
        if retry_after and rpm:
            # A server's 429 with Retry-After: every worker holds back.
            ratelimit.pause(name, retry_after)
        sleep(backoff_delay(attempt, retry_after))
    assert last is not None
    raise last


# --- the calls -------------------------------------------------------------------------


def ai_complete(
    call: AICall,
    text: str,
    *,
    language: str = "",
    part: tuple[int, int] | None = None,
    on_attempt: OnAttempt | None = None,
) -> tuple[BaseModel, Completion, str]:
    """Answer ``call`` for ``text`` with the first provider of ``AI_PROVIDERS`` that succeeds.

    Returns the validated pydantic model, the raw Completion and the name of
    the provider that answered. ``on_attempt(provider, attempt, error)`` is
    called after every attempt (``error`` None on success). Raises a permanent
    ProviderError "all AI providers failed: openai: ...; local: ..." when none
    did.
    """
    schema = SCHEMAS[call]
    failures: list[str] = []
    for provider in ai_providers():
        name = provider.name
        limit = getattr(provider, "max_input_chars", None)
        given = text
        if call != "lesson_structure" and limit is not None and len(text) > limit:
            # Quiz and cards from a sample that covers the whole text.
            given = chunking.sample_text(text, limit)

        def validate(completion: Completion) -> tuple[BaseModel, Completion]:
            return schema.model_validate(completion.data), completion

        try:
            model, completion = _attempts(
                name,
                lambda provider=provider, given=given: provider.complete(
                    call, given, language=language, part=part
                ),
                on_attempt=on_attempt,
                validate=validate,
            )
        except Exception as exc:
            if _must_propagate(exc):
                raise
            failures.append(f"{name}: {_short(exc)}")
            continue
        if failures:
            logger.info("AI call %s answered by %s after: %s", call, name, "; ".join(failures))
        return model, completion, name
    raise ProviderError("all AI providers failed: " + "; ".join(failures), transient=False)


def find_image(
    *, description: str, query: str, context: str = "", on_attempt: OnAttempt | None = None
) -> tuple[str, str]:
    """An image URL for a placeholder from ``IMAGE_PROVIDER``, with the retry policy.

    Returns ``(url, provider_name)``; raises the provider's last ProviderError.
    """
    provider = image_provider()
    name = provider.name
    try:
        url = _attempts(
            name,
            lambda: provider.find_image(description=description, query=query, context=context),
            on_attempt=on_attempt,
        )
    except ProviderError as exc:
        if not exc.provider:
            exc.provider = name
        raise
    except Exception as exc:
        if _must_propagate(exc):
            raise
        raise ProviderError(_short(exc), transient=False, provider=name) from None
    return url, name
