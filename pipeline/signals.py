"""Job records: one row per execution of a pipeline task, written from
Celery's signals so that no task has to remember to do it. And the worker's
database connections, handled at task boundaries as Django handles them at
request boundaries."""

import logging
import socket
import sys
import threading
import time

from celery import signals
from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.utils import timezone

from pipeline.models import JobRecord

logger = logging.getLogger(__name__)

JOB_TYPES = {
    "pipeline.extract_source_text": JobRecord.JobType.EXTRACT_SOURCE_TEXT,
    "pipeline.process_source_text": JobRecord.JobType.PROCESS_SOURCE_TEXT,
    "pipeline.process_visual_placeholders": JobRecord.JobType.PROCESS_VISUAL_PLACEHOLDERS,
    "pipeline.generate_visual": JobRecord.JobType.GENERATE_VISUAL,
    "pipeline.assemble_note": JobRecord.JobType.ASSEMBLE_NOTE,
    "pipeline.generate_study_tools": JobRecord.JobType.GENERATE_STUDY_TOOLS,
    "pipeline.resume_source": JobRecord.JobType.RESUME_SOURCE,
    "pipeline.watchdog": JobRecord.JobType.WATCHDOG,
}
STATES = {
    "SUCCESS": JobRecord.State.SUCCESS,
    "FAILURE": JobRecord.State.FAILURE,
    "RETRY": JobRecord.State.RETRY,
    "IGNORED": JobRecord.State.IGNORED,
}
HOSTNAME = socket.gethostname()


class _Running(threading.local):
    """Executions in progress in this thread (or greenlet): task id -> (row id,
    start, error), and task id -> earlier executions lost (known from the
    start). Thread-local because thread and gevent pools run many."""

    def __init__(self) -> None:
        self.jobs: dict[str, list] = {}
        self.lost: dict[str, int] = {}


_running = _Running()


# --- database connections at task boundaries ------------------------------------------
#
# Celery's Django fix-up closes every connection before and after each task
# (unless CELERY_DB_REUSE_MAX is set, see settings), whatever CONN_MAX_AGE
# says: a new PostgreSQL connection, with its server process, per task. With
# the fix-up's closing deferred, these handlers do what Django does around a
# request: close a connection that is broken or older than CONN_MAX_AGE (0
# closes it every time). A greenlet pool (gevent, eventlet)
# runs each task in a new greenlet with its own connections: those are closed
# after every task, or they would pile up.


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


def _create_record(*, task_id: str, job_type: str, source_id, visual_id) -> tuple[int, int]:
    """Insert the execution's STARTED row. Returns its id and the number of
    earlier executions of this task id that were lost (still STARTED): one
    look-up gives both the attempt number and the poison check."""
    earlier = list(JobRecord.objects.filter(task_id=task_id).values_list("state", flat=True))
    lost = sum(1 for state in earlier if state == JobRecord.State.STARTED)
    fields = {
        "task_id": task_id,
        "job_type": job_type,
        "visual_id": visual_id,
        "attempt": len(earlier) + 1,
        "worker": HOSTNAME,
        "started_at": timezone.now(),
    }
    try:
        if not connection.in_atomic_block:
            # Autocommit (a worker): a failed insert leaves nothing to roll back,
            # so no transaction is needed (it would cost a BEGIN and a COMMIT).
            return JobRecord.objects.create(source_id=source_id, **fields).pk, lost
        with transaction.atomic():  # inside a caller's transaction: a savepoint
            return JobRecord.objects.create(source_id=source_id, **fields).pk, lost
    except IntegrityError:
        # The source was deleted meanwhile; the execution is still recorded.
        return JobRecord.objects.create(source_id=None, **fields).pk, lost


@signals.task_prerun.connect
def job_started(sender=None, task_id=None, task=None, kwargs=None, **_) -> None:
    job_type = JOB_TYPES.get(getattr(task, "name", ""))
    if job_type is None:
        return
    kwargs = kwargs or {}
    try:
        record_id, lost = _create_record(
            task_id=task_id,
            job_type=job_type,
            source_id=kwargs.get("source_id"),
            visual_id=kwargs.get("visual_id"),
        )
    except Exception:
        # Bookkeeping must never stop the work itself (the database may be
        # down: the task will retry and be recorded then).
        logger.warning("could not record the start of task %s", task_id, exc_info=True)
        return
    _running.jobs[task_id] = [record_id, time.monotonic(), ""]
    _running.lost[task_id] = lost


@signals.task_failure.connect
def job_failed(sender=None, task_id=None, exception=None, **_) -> None:
    if task_id in _running.jobs:
        _running.jobs[task_id][2] = f"{type(exception).__name__}: {exception}"[:2000]


@signals.task_retry.connect
def job_retried(sender=None, request=None, reason=None, **_) -> None:
    task_id = getattr(request, "id", None)
    if task_id in _running.jobs:
        _running.jobs[task_id][2] = f"retry: {reason}"[:2000]


def executions_lost(task_id: str) -> int:
    """Earlier executions of this task id that never finished: their worker
    died (killed, out of memory, hard time limit). The running one, recorded
    at its start, is not counted. Known from the start of the execution (no
    query), else counted now."""
    if task_id in _running.jobs and task_id in _running.lost:
        return _running.lost[task_id]
    started = JobRecord.objects.filter(task_id=task_id, state=JobRecord.State.STARTED)
    running = _running.jobs.get(task_id)
    if running is not None:
        started = started.exclude(pk=running[0])
    return started.count()


def job_replaced(task_id: str) -> None:
    """The task replaced itself with a new canvas: Celery reports that as
    IGNORED, but for the record the execution succeeded."""
    if task_id in _running.jobs:
        _running.jobs[task_id].append("replaced")


@signals.task_postrun.connect
def job_finished(sender=None, task_id=None, state=None, **_) -> None:
    _running.lost.pop(task_id, None)
    entry = _running.jobs.pop(task_id, None)
    if entry is None:
        return
    record_id, started, error, *flags = entry
    if state == "IGNORED" and "replaced" in flags:
        state = "SUCCESS"
    try:
        if connection.errors_occurred and not connection.in_atomic_block:
            # The task's connection broke (the database dropped it mid-task):
            # the record needs a new one, or this execution would stay
            # STARTED and count as lost with its worker (a poison message).
            connection.close_if_unusable_or_obsolete()
        JobRecord.objects.filter(pk=record_id).update(
            state=STATES.get(state, JobRecord.State.FAILURE),
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
            error=error,
        )
    except Exception:
        logger.warning("could not record the end of task %s", task_id, exc_info=True)


@signals.task_postrun.connect
def connections_after_task(sender=None, task=None, **_) -> None:
    # Connected after job_finished: its update is the task's last query.
    if _is_eager(task or sender):
        return
    if _greenlet_pool():
        connections.close_all()
    else:
        close_old_connections()
