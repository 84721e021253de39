"""Job records: one row per task execution, and the counts the pipeline
takes from them (retries of a task, executions lost with their worker)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .models import JobRecord

logger = logging.getLogger(__name__)

State = JobRecord.State


@dataclass
class Job:
    """An execution in progress."""

    record_id: int | None
    started: float
    # Executions of this task id that asked for a retry (transient failures).
    retries: int = 0
    # Executions of this step of this source (and item) lost with their worker.
    lost: int = 0
    # An earlier execution of this very message died and nobody noticed yet
    # (it is still STARTED): what it held is free for this one.
    takes_over: bool = False
    attempt: int = 1
    error: str = field(default="")


def job_start(*, task_id: str, job_type: str, source_id: int | None, item_id: int | None, worker: str) -> Job:
    """Record the start of an execution (state STARTED) and count, in the same
    look-up, the earlier executions of this task id (attempt, retries) and
    the executions of this step lost with their worker: those marked LOST by
    the recovery check, and those of this very task id still STARTED (lost,
    not noticed yet), so a step that kills its worker is given up after
    PIPELINE_MAX_ATTEMPTS losses, across resumes that give it new task ids."""
    same_step_lost = Q(source_id=source_id, job_type=job_type, item_id=item_id, state=State.LOST)
    earlier = list(
        JobRecord.objects.filter(Q(task_id=task_id) | same_step_lost).values_list("task_id", "state")
    )
    own = [state for earlier_task, state in earlier if earlier_task == task_id]
    job = Job(
        record_id=None,
        started=time.monotonic(),
        retries=sum(1 for state in own if state == State.RETRY),
        lost=sum(1 for _, state in earlier if state == State.LOST)
        + sum(1 for s in own if s == State.STARTED),
        attempt=len(own) + 1,
        takes_over=State.STARTED in own,
    )
    fields = {
        "task_id": task_id,
        "job_type": job_type,
        "item_id": item_id,
        "attempt": job.attempt,
        "worker": worker,
        "started_at": timezone.now(),
    }
    try:
        if connection.in_atomic_block:  # inside a caller's transaction (eager tests): a savepoint
            with transaction.atomic():
                job.record_id = JobRecord.objects.create(source_id=source_id, **fields).pk
        else:
            job.record_id = JobRecord.objects.create(source_id=source_id, **fields).pk
    except IntegrityError:
        # The source was deleted meanwhile; the execution is still recorded.
        job.record_id = JobRecord.objects.create(source_id=None, **fields).pk
    return job


def job_finish(job: Job, *, state: str, error: str = "") -> None:
    """Record how the execution ended. Bookkeeping never stops the work: a
    failure here is logged (the record stays STARTED, and a live worker's
    STARTED record is never taken for lost)."""
    if job.record_id is None:
        return
    try:
        if connection.errors_occurred and not connection.in_atomic_block:
            # The task's connection broke (the database dropped it mid-task):
            # the record needs a new one.
            connection.close_if_unusable_or_obsolete()
        JobRecord.objects.filter(pk=job.record_id).update(
            state=state,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - job.started) * 1000),
            error=error[:2000],
        )
    except DatabaseError:  # bookkeeping must never fail the work it records
        logger.warning("could not record the end of job %s", job.record_id, exc_info=True)


def started_before(cutoff) -> list[JobRecord]:
    """Executions still STARTED that began before ``cutoff``."""
    return list(
        JobRecord.objects.filter(state=State.STARTED, started_at__lt=cutoff)
        .exclude(worker="")
        .only("pk", "task_id", "job_type", "source_id", "item_id", "worker")
    )


def mark_lost(record_id: int) -> bool:
    """STARTED -> LOST; False when it ended meanwhile (or another check got there first)."""
    return bool(
        JobRecord.objects.filter(pk=record_id, state=State.STARTED).update(
            state=State.LOST, finished_at=timezone.now(), error="its worker stopped proving it was alive"
        )
    )
