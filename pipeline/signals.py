"""What must be a Celery signal: a worker process starts proving it is
alive as soon as it exists; and the worker's database connections, handled
at task boundaries as Django handles them at request boundaries.

Celery's Django fix-up closes every connection before and after each task
(unless CELERY_DB_REUSE_MAX is set, see settings), whatever CONN_MAX_AGE
says: a new PostgreSQL connection, with its server process, per task. With
the fix-up's closing deferred, these handlers close a connection that is
broken or older than CONN_MAX_AGE (0 closes it every time). A greenlet pool
(gevent, eventlet) runs each task in a new greenlet with its own
connections: those are closed after every task, or they would pile up.
"""

import sys

from celery import signals
from django.db import close_old_connections, connections

from . import liveness


@signals.worker_process_init.connect
@signals.worker_ready.connect
def prove_alive(**_) -> None:
    # A prefork pool child (worker_process_init) or the worker itself
    # (worker_ready; the process of a thread pool): before its first task.
    liveness.ensure_beating()


def _greenlet_pool() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return True
    patcher = sys.modules.get("eventlet.patcher")
    return bool(patcher is not None and patcher.is_monkey_patched("thread"))


def _is_eager(task) -> bool:
    # An eagerly applied task runs inside the caller's own request or test
    # transaction: its connection is not ours to close.
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


@signals.task_prerun.connect
def connections_before_task(sender=None, task=None, **_) -> None:
    if not _is_eager(task or sender):
        close_old_connections()


@signals.task_postrun.connect
def connections_after_task(sender=None, task=None, **_) -> None:
    if _is_eager(task or sender):
        return
    if _greenlet_pool():
        connections.close_all()
    else:
        close_old_connections()
