"""Workers prove they are alive, so that the work of a dead one starts again
within a minute instead of after the broker's visibility timeout.

Every process that runs pipeline tasks (a prefork pool child, a thread-pool
worker, the embedded worker) keeps a key ``alive:<host>:<pid>`` in the shared
Redis with an expiry of WORKER_LOST_AFTER seconds, renewed by a daemon
thread several times per expiry. A job record names the process that runs
it (``worker_identity()``). A periodic check (pipeline.recovery) treats a
STARTED execution whose process has no key as lost and starts its step
again; the original message, restored later by the visibility timeout,
finds the work done (every step is idempotent).

A long task keeps its key alive: the thread beats whatever the task does
(Python code releases the interpreter lock between bytecodes; I/O waits do
too). Without a shared Redis (the embedded default: one process does
everything) there is nothing to prove, and every process counts as alive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

import redis
from django.conf import settings

from . import coordination

logger = logging.getLogger(__name__)

_beating: dict[int, threading.Thread] = {}
_stopped: dict[int, threading.Event] = {}
_lock = threading.Lock()


def worker_identity() -> str:
    """``host:pid`` of this process (a prefork child has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _key(identity: str) -> str:
    return coordination.key("alive", identity)


def beat(client: redis.Redis, identity: str) -> None:
    client.set(_key(identity), "1", px=int(settings.WORKER_LOST_AFTER * 1000))


def _beat_forever(identity: str, stop: threading.Event) -> None:
    interval = max(0.5, settings.WORKER_LOST_AFTER / 5)
    while not stop.wait(interval):
        client = coordination.client()
        if client is None:
            return
        try:
            beat(client, identity)
        except redis.RedisError as exc:
            # Redis away for a moment: the next beat tries again (a long outage
            # is an outage of the broker too).
            logger.warning("could not prove this worker alive (%s)", type(exc).__name__)


def ensure_beating() -> None:
    """Start this process's heartbeat if it is not running (once per process;
    a forked child starts its own). The first beat is written at once, so
    the execution recorded next is never taken for lost."""
    pid = os.getpid()
    if pid in _beating and _beating[pid].is_alive():
        return
    client = coordination.client()
    if client is None:
        return
    with _lock:
        if pid in _beating and _beating[pid].is_alive():
            return
        identity = worker_identity()
        try:
            beat(client, identity)
        except redis.RedisError as exc:
            logger.warning("could not prove this worker alive (%s)", type(exc).__name__)
        stop = _stopped[pid] = threading.Event()
        thread = threading.Thread(
            target=_beat_forever, args=(identity, stop), name="studynaut-heartbeat", daemon=True
        )
        thread.start()
        _beating[pid] = thread


def stop_beating() -> None:
    """This process stops proving it is alive (an embedded worker that
    stops, a test's worker): its key goes at once."""
    pid = os.getpid()
    with _lock:
        stop = _stopped.pop(pid, None)
        thread = _beating.pop(pid, None)
    if stop is None:
        return
    stop.set()
    if thread is not None:
        thread.join(timeout=5)
    client = coordination.client()
    if client is not None:
        try:
            client.delete(_key(worker_identity()))
        except redis.RedisError as exc:
            logger.warning("could not withdraw this worker's sign of life (%s)", type(exc).__name__)


def alive(identities: set[str]) -> set[str]:
    """Which of these processes proved they are alive lately (all of them
    without a shared Redis)."""
    client = coordination.client()
    if client is None or not identities:
        return set(identities)
    ordered = sorted(identities)
    found = client.mget([_key(identity) for identity in ordered])
    return {identity for identity, value in zip(ordered, found, strict=True) if value is not None}


def alive_count() -> int | None:
    """How many processes proved they are alive lately (None without a shared Redis)."""
    client = coordination.client()
    if client is None:
        return None
    return sum(1 for _ in client.scan_iter(match=_key("*"), count=500))
