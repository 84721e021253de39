"""Job records: one row per execution of a pipeline task, written from
Celery's signals so that no task has to remember to do it."""

import logging
import socket
import threading
import time

from celery import signals
from django.db import IntegrityError, transaction
from django.utils import timezone

from notes.models import JobRecord

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
    start, error). Thread-local because thread and gevent pools run many."""

    def __init__(self) -> None:
        self.jobs: dict[str, list] = {}


_running = _Running()


def _create_record(*, task_id: str, job_type: str, source_id, visual_id) -> int:
    attempt = JobRecord.objects.filter(task_id=task_id).count() + 1
    fields = {
        "task_id": task_id,
        "job_type": job_type,
        "visual_id": visual_id,
        "attempt": attempt,
        "worker": HOSTNAME,
        "started_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            return JobRecord.objects.create(source_id=source_id, **fields).pk
    except IntegrityError:
        # The source was deleted meanwhile; the execution is still recorded.
        return JobRecord.objects.create(source_id=None, **fields).pk


@signals.task_prerun.connect
def job_started(sender=None, task_id=None, task=None, kwargs=None, **_) -> None:
    job_type = JOB_TYPES.get(getattr(task, "name", ""))
    if job_type is None:
        return
    kwargs = kwargs or {}
    try:
        record_id = _create_record(
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
    at its start, is not counted."""
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
    entry = _running.jobs.pop(task_id, None)
    if entry is None:
        return
    record_id, started, error, *flags = entry
    if state == "IGNORED" and "replaced" in flags:
        state = "SUCCESS"
    try:
        JobRecord.objects.filter(pk=record_id).update(
            state=STATES.get(state, JobRecord.State.FAILURE),
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
            error=error,
        )
    except Exception:
        logger.warning("could not record the end of task %s", task_id, exc_info=True)
