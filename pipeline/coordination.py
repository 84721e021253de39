"""The Redis that every process shares for coordination: the providers' rate
limits, the workers' signs of life and the progress events.

It is ``settings.SHARED_REDIS_URL`` (the result backend's Redis, else the
broker's), or none at all on the embedded default, where one process does
everything and keeps that state in memory. Every key starts with
``settings.REDIS_KEY_PREFIX``.
"""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings

_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def shared_redis_url() -> str | None:
    return settings.SHARED_REDIS_URL or None


def client() -> redis.Redis | None:
    """One client (one connection pool) per process and URL; None without a
    shared Redis."""
    url = shared_redis_url()
    if url is None:
        return None
    ident = (os.getpid(), url)
    found = _clients.get(ident)
    if found is None:
        with _clients_lock:
            found = _clients.get(ident)
            if found is None:
                found = redis.Redis.from_url(
                    url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
                )
                _clients[ident] = found
    return found


def key(*parts: object) -> str:
    return settings.REDIS_KEY_PREFIX + ":".join(str(part) for part in parts)
