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

FAULT_CRASH_IN=<pipeline.services function>, FAULT_CRASH_MODE=worker|child
    Replace that service function (the work of one step, called after the
    step's poison guard) by one that kills the worker (``worker``: the
    process group) or only the pool process running it (``child``:
    ``os._exit``), every time, after FAULT_CRASH_AFTER seconds of "work"
    (0.5): a poison message. A prerun hook would kill before the task body,
    where no guard can ever run.

FAULT_HANG_IN=<pipeline.services function>
    That service function first hangs without ever answering the soft time
    limit (its signal is blocked, like C code that never returns to Python),
    so only the hard time limit ends it. Every time, or only the first time
    when FAULT_ONCE_FILE is set.
"""

import os
import signal
import time

import django
from celery import signals

from studynaut.celery import app

django.setup()

# Connect after the job-record handlers (pipeline.signals, connected by
# django.setup()), so that an execution is recorded before a hook kills it.
import pipeline.services  # noqa: E402
import pipeline.signals  # noqa: E402

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


if crash_in := os.environ.get("FAULT_CRASH_IN"):
    _mode = os.environ.get("FAULT_CRASH_MODE", "worker")

    def _crash(**_) -> None:
        # Some work first: a pool process that dies within milliseconds of
        # taking a job can die before the pool has registered the job as its
        # own, and billiard then strands the job until the hard time limit.
        time.sleep(float(os.environ.get("FAULT_CRASH_AFTER", "0.5")))
        if _mode == "child":
            os._exit(1)
        _kill_worker()

    setattr(pipeline.services, crash_in, _crash)


if hang_in := os.environ.get("FAULT_HANG_IN"):
    _step = getattr(pipeline.services, hang_in)

    def _hang(**kwargs):
        if _first_time():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # billiard's soft limit
            time.sleep(3600)
        return _step(**kwargs)

    setattr(pipeline.services, hang_in, _hang)
