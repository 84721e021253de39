"""Requests-per-minute limits per provider, shared by every worker.

A GCRA (generic cell rate algorithm, a token bucket in one number) kept in
Redis and updated atomically by a Lua script that uses the Redis server's
clock, so all workers on all machines share one budget: in any window of
``per_seconds`` at most ``rpm + burst`` requests start. ``burst`` defaults to
``max(1, rpm // 10)``.

``pause(provider, seconds)`` makes every worker hold back for that provider
(a key with a PX expiry that ``acquire`` honours): used when a server
answers 429 with Retry-After.

The state lives in the shared Redis (pipeline.coordination). Without one
(the embedded default) an in-process, thread-safe limiter with the same
semantics is used.
If Redis cannot be reached the limiter lets requests through (and logs a
warning): the broker is down then anyway and the providers' own 429s still
slow us down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis

from pipeline import coordination
from pipeline.errors import RateLimited

logger = logging.getLogger(__name__)

# Tests may replace these to observe or speed up waiting.
sleep = time.sleep
monotonic = time.monotonic

# KEYS[1]: the theoretical arrival time (ms), KEYS[2]: the pause flag.
# ARGV[1]: emission interval in ms, ARGV[2]: burst.
# Returns 0 when a request may start now, else the milliseconds to wait.
_ACQUIRE_LUA = """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return paused
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then
  tat = math.max(tonumber(stored), now)
end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return math.max(1, math.ceil(allow_at - now))
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""

# KEYS[1]: the pause flag. ARGV[1]: milliseconds. Only ever lengthens a pause.
_PAUSE_LUA = """
local current = redis.call('PTTL', KEYS[1])
local ms = tonumber(ARGV[1])
if current < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 0
"""


def default_burst(rpm: int) -> int:
    return max(1, rpm // 10)


def _keys(provider: str) -> tuple[str, str]:
    # The hash tag keeps both keys of a provider in one Redis Cluster slot.
    base = coordination.key("ratelimit", f"{{{provider}}}")
    return f"{base}:tat", f"{base}:pause"


# --- Redis backend ---------------------------------------------------------------------


@dataclass
class _Scripts:
    acquire: Any
    pause: Any


_scripts: dict[int, _Scripts] = {}
_scripts_lock = threading.Lock()


def _redis_scripts(client: redis.Redis) -> _Scripts:
    """The Lua scripts registered on the process's shared client."""
    found = _scripts.get(id(client))
    if found is None:
        with _scripts_lock:
            found = _scripts.setdefault(
                id(client),
                _Scripts(
                    acquire=client.register_script(_ACQUIRE_LUA), pause=client.register_script(_PAUSE_LUA)
                ),
            )
    return found


# --- in-process backend ------------------------------------------------------------------


class _MemoryLimiter:
    """The same GCRA for one process (the embedded broker), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}

    def try_acquire(self, key: str, interval: float, burst: int) -> float:
        with self._lock:
            now = monotonic()
            paused = self._paused_until.get(key, 0.0) - now
            if paused > 0:
                return paused
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + interval
            allow_at = new_tat - burst * interval
            if allow_at > now:
                return allow_at - now
            self._tat[key] = new_tat
            return 0.0

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = monotonic() + seconds
            if until > self._paused_until.get(key, 0.0):
                self._paused_until[key] = until

    def clear(self) -> None:
        with self._lock:
            self._tat.clear()
            self._paused_until.clear()


_memory = _MemoryLimiter()


# --- the API -----------------------------------------------------------------------------


def _try_acquire(provider: str, interval: float, burst: int) -> float:
    """0 when a request may start now, else the seconds to wait first."""
    client = coordination.client()
    if client is None:
        return _memory.try_acquire(coordination.key("ratelimit", provider), interval, burst)
    tat_key, pause_key = _keys(provider)
    try:
        waited_ms = _redis_scripts(client).acquire(
            keys=[tat_key, pause_key], args=[f"{interval * 1000:.3f}", burst]
        )
    except redis.RedisError as exc:
        logger.warning(
            "rate limiter unavailable (%s); letting a %s request through", type(exc).__name__, provider
        )
        return 0.0
    return int(waited_ms) / 1000


def acquire(
    provider: str,
    rpm: int,
    *,
    max_wait: float,
    per_seconds: float = 60.0,
    burst: int | None = None,
) -> None:
    """Wait until ``provider`` may be called again under ``rpm`` requests per
    ``per_seconds`` (shared by all workers), at most ``max_wait`` seconds.

    Raises RateLimited (not an error: the task reschedules itself) when the
    wait would be longer than ``max_wait``. ``rpm <= 0`` means no limit.
    """
    if rpm <= 0:
        return
    interval = per_seconds / rpm
    burst = default_burst(rpm) if burst is None else max(1, burst)
    deadline = monotonic() + max(0.0, max_wait)
    while True:
        wait = _try_acquire(provider, interval, burst)
        if wait <= 0:
            return
        remaining = deadline - monotonic()
        if wait > remaining:
            raise RateLimited(provider, retry_after=math.ceil(wait * 1000) / 1000)
        sleep(wait)


def pause(provider: str, seconds: float) -> None:
    """Make every worker hold back calls to ``provider`` for ``seconds``."""
    if seconds <= 0:
        return
    client = coordination.client()
    if client is None:
        _memory.pause(coordination.key("ratelimit", provider), seconds)
        return
    _, pause_key = _keys(provider)
    try:
        _redis_scripts(client).pause(keys=[pause_key], args=[max(1, math.ceil(seconds * 1000))])
    except redis.RedisError as exc:
        logger.warning("rate limiter unavailable (%s); could not pause %s", type(exc).__name__, provider)


def reset_memory() -> None:
    """Forget the in-process limiter's state (tests)."""
    _memory.clear()
