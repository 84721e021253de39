"""One fix to kombu's Redis transport (kombu 5.7), applied where the Celery
app is made: an acknowledgement that fails must still give the worker its
prefetch credit back.

kombu's Redis ``QoS.ack`` (and ``reject``) first removes the message from
Redis's unacknowledged index, then forgets the delivery locally. When Redis
is away at that moment (a restart), the first part raises, the second never
runs, and the delivery keeps counting against the prefetch limit for as long
as the channel lives. After ``prefetch_count`` such failures the channel
never fetches again: the worker is alive, idle, and consumes nothing. When the
channel's connection object has already been closed by a reconnect, the same
call raises ``AttributeError`` instead, which killed the worker.

Measured (tests/faults/test_redis_restart.py, 30 Redis restarts under load):
without this fix every run ended with a worker wedged or dead.

The message itself is not lost: it stays in the unacknowledged index, and
the transport delivers it again once the visibility timeout passes. Every
pipeline step is idempotent, so running it twice is harmless.
"""

from __future__ import annotations

import logging

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import QoS as VirtualQoS

logger = logging.getLogger(__name__)

# A closed connection object makes kombu raise AttributeError (its client is None).
_LOST_CONNECTION = (redis.RedisError, OSError, AttributeError)


def _ack(self, delivery_tag):
    try:
        self._remove_from_indices(delivery_tag).execute()
    except _LOST_CONNECTION as exc:
        logger.warning(
            "could not acknowledge a message on Redis (%s): it will be delivered again after the "
            "visibility timeout",
            type(exc).__name__,
        )
    VirtualQoS.ack(self, delivery_tag)


def _reject(self, delivery_tag, requeue=False):
    try:
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)
        else:
            self._remove_from_indices(delivery_tag).execute()
    except _LOST_CONNECTION as exc:
        logger.warning(
            "could not reject a message on Redis (%s): it will be delivered again after the "
            "visibility timeout",
            type(exc).__name__,
        )
    VirtualQoS.ack(self, delivery_tag)


def apply() -> None:
    kombu_redis.QoS.ack = _ack
    kombu_redis.QoS.reject = _reject
