"""The Studynaut Celery app with test-only fault hooks, for the fault-injection
suite (tests/faults). Worker subprocesses run ``celery -A tests.fault_app
worker``: the same app, tasks and settings as ``celery -A studynaut``, plus
hooks that do nothing unless their environment variable is set. Product code
knows nothing of them.

FAULT_RESTORE_INTERVAL=<seconds>
    Sweep kombu's unacknowledged-message index that often (kombu's default:
    a scan every 10 x 10 s). With the test's short visibility timeout this
    is what makes a killed worker's tasks come back in seconds. Timing only:
    the mechanism is production's.

FAULT_DIE_AFTER=<task name>
    In ``task_postrun`` of that task (its result is stored and, for a chord
    header, counted; its message is not acknowledged yet) kill the whole
    worker: every process of its process group, parent included, SIGKILL.
    Only the first time: FAULT_ONCE_FILE names a file created on the way out.

Providers that kill their worker or hang (tests/fault_providers.py) are
chosen through AI_PROVIDERS and IMAGE_PROVIDER, like any provider.
"""

import os
import signal

import django
from celery import signals

from studynaut.celery import app

django.setup()

# Connect after the database-connection handlers (pipeline.signals,
# connected by django.setup()).
import pipeline.signals  # noqa: E402, F401

__all__ = ["app"]


def _kill_worker() -> None:
    """Like a crash of the worker's container: every process, no cleanup."""
    os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(137)  # not reached


def _first_time() -> bool:
    """True once per FAULT_ONCE_FILE (across processes), always without one."""
    once = os.environ.get("FAULT_ONCE_FILE")
    if not once:
        return True
    try:
        fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


if interval := os.environ.get("FAULT_RESTORE_INTERVAL"):
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "unacked_restore_interval": float(interval),
        "unacked_restore_throttle": 1,
        # A worker killed while holding the sweep's mutex must not block the
        # sweep for kombu's default 300 s.
        "unacked_mutex_expire": 5,
    }


if die_after := os.environ.get("FAULT_DIE_AFTER"):

    @signals.task_postrun.connect(weak=False)
    def _die_after(sender=None, task=None, **_) -> None:
        if getattr(task, "name", None) == die_after and _first_time():
            _kill_worker()
