"""Failed admin logins are limited per client address and per username.

The admin's login form is a password oracle: without a limit, anyone can
try passwords as fast as the server answers. Each failed attempt is
counted twice, for the client's address (one machine trying many accounts)
and for the username (many machines trying one account), over a sliding
window; past either limit the form answers with an error until the oldest
failure of the window expires, without checking the password at all.

The rates are THROTTLE_ADMIN_LOGIN_ADDRESS and THROTTLE_ADMIN_LOGIN_USERNAME
(DRF's rate format: "10/hour"). A successful login does not clear the
count. The history lives in the default cache (Redis in production, shared
by every web process); when that cache cannot be reached the limit is
skipped and logged, like the API's throttles.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from .throttles import CACHE_ERRORS

logger = logging.getLogger("api")

CACHE_PREFIX = "admin-login-failures"


def client_address(request: HttpRequest) -> str:
    """The client's address as the API's throttles see it (NUM_PROXIES
    decides whether X-Forwarded-For is trusted)."""
    return BaseThrottle().get_ident(request)


def _key(scope: str, ident: str) -> str:
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{CACHE_PREFIX}:{scope}:{digest}"


PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate format, "10/hour": (10, 3600)."""
    count, period = rate.split("/")
    return int(count), PERIOD_SECONDS[period[0]]


def _limits(*, address: str, username: str) -> list[tuple[str, int, int]]:
    """(cache key, failures allowed, period in seconds) of each limit."""
    rates = settings.ADMIN_LOGIN_FAILURE_RATES
    limits = []
    for scope, ident in (("address", address), ("username", username.strip().casefold())):
        allowed, period = parse_rate(rates[scope])
        limits.append((_key(scope, ident), allowed, period))
    return limits


def login_wait_seconds(*, address: str, username: str) -> int:
    """0 when a login may be tried, else how long until it may."""
    now = time.time()
    wait = 0.0
    try:
        for key, allowed, period in _limits(address=address, username=username):
            recent = [moment for moment in cache.get(key, []) if moment > now - period]
            if len(recent) >= allowed:
                wait = max(wait, recent[-allowed] + period - now)
    except CACHE_ERRORS as exc:
        logger.warning("admin login limit skipped: cache unavailable (%s)", type(exc).__name__)
        return 0
    return math.ceil(wait)


def login_failed(*, address: str, username: str) -> None:
    now = time.time()
    try:
        for key, allowed, period in _limits(address=address, username=username):
            recent = [moment for moment in cache.get(key, []) if moment > now - period]
            cache.set(key, [*recent[-(allowed - 1) :], now] if allowed > 1 else [now], period)
    except CACHE_ERRORS as exc:
        logger.warning("admin login failure not counted: cache unavailable (%s)", type(exc).__name__)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, refusing to check a password once too many
    logins failed from this address or for this username."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "too_many_failures": (
            "Too many failed logins from this address or for this account. "
            "Try again in %(minutes)s minute(s)."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if wait := login_wait_seconds(address=address, username=username):
            logger.warning("admin login refused: too many failures (address or username)")
            raise ValidationError(
                self.error_messages["too_many_failures"],
                code="too_many_failures",
                params={"minutes": max(1, math.ceil(wait / 60))},
            )
        try:
            return super().clean()
        except ValidationError:
            login_failed(address=address, username=username)
            raise
