"""Throttles of the API.

The throttle history lives in the default cache, which is Redis (the broker's)
in production. When Redis is down, a throttle that raises would turn every
request into a 500, although the API itself still works (a new source simply
waits for the broker in PENDING): these throttles fail open and log instead.
Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].
"""

import logging

from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

logger = logging.getLogger("api")

# Errors of a cache that cannot be reached (redis-py raises its own, a
# socket-level failure surfaces as OSError).
try:
    from redis.exceptions import RedisError as _RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (_RedisError, OSError)
except ImportError:  # pragma: no cover - redis is a runtime dependency
    CACHE_ERRORS = (OSError,)


class _FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.warning(
                "throttle %s skipped: cache unavailable (%s)", type(self).__name__, type(exc).__name__
            )
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    pass


class UserThrottle(_FailOpen, UserRateThrottle):
    pass


class ScopedThrottle(_FailOpen, ScopedRateThrottle):
    """The view's `throttle_scope` (per user, or per address when anonymous)."""


class ScopedWriteThrottle(ScopedThrottle):
    """The view's `throttle_scope`, applied to writes only: listing sources
    does not use up the allowance for creating them."""

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


DEFAULT_THROTTLES = [AnonThrottle, UserThrottle]
