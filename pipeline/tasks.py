"""Celery tasks: one class owns what every step shares, so each task is a line.

``PipelineTask.execute`` runs a step of the table (pipeline/steps.py):

- it records the execution (a job record: where, how long, how it ended)
  and keeps this process's heartbeat (pipeline/liveness.py);
- it gives up a step whose worker was lost PIPELINE_MAX_ATTEMPTS times (a
  poison message), applying the step's failure policy;
- it moves the source into the step's stage, never backwards
  (pipeline/lifecycle.py), and stops when the source moved on, failed or
  was deleted;
- it runs the step's service function, then fans out (a chord that replaces
  the step in the chain), or records that the step is done;
- our own rate limit reschedules the task (the source shows it waits);
  transient errors and infrastructure hiccups retry it with backoff;
  anything else applies the step's failure policy: fail the source, finish
  it with errors, or record the failure on the item (the chord goes on).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery import Task, shared_task, signature
from celery.exceptions import Ignore, Retry, SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import canvas, jobs, lifecycle, liveness, recovery, services, steps
from .errors import PipelineError, RateLimited
from .models import JobRecord
from .steps import Maintenance, OnFailure, Step

logger = logging.getLogger(__name__)

State = JobRecord.State

# Infrastructure errors worth a retry of the whole task.
INFRASTRUCTURE_ERRORS = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
)


class StepFailed(Exception):
    """A step failed for good; the source (or the item) already says why."""


def retry_delay(retries: int) -> float:
    """Exponential backoff with jitter, capped well below the visibility timeout."""
    return min(settings.TASK_RETRY_DELAY_MAX, 2**retries) * random.uniform(0.5, 1.0)


class _Outcome:
    """How an execution ends, for its job record."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.error = ""

    def set(self, state: str, error: str = "") -> None:
        if self.state is None:
            self.state, self.error = state, error

    def from_exception(self, exc: BaseException) -> None:
        if isinstance(exc, Retry):
            cause = exc.exc
            if isinstance(cause, BaseException):
                self.set(State.RETRY, f"retry: {type(cause).__name__}: {cause}")
            else:
                self.set(State.RETRY, f"retry: {exc.message or ''}")
        elif isinstance(exc, Ignore):
            self.set(State.IGNORED)
        elif isinstance(exc, Exception):
            self.set(State.FAILURE, f"{type(exc).__name__}: {exc}")


class RecordedTask(Task):
    """A task whose every execution has a job record."""

    job_type: str = ""
    max_retries = None  # our own limits, counted from the job records
    throws = (StepFailed,)  # expected: logged without a traceback

    def record(self, *, source_id: int | None, item_id: int | None) -> jobs.Job:
        liveness.ensure_beating()
        return jobs.job_start(
            task_id=self.request.id or "",
            job_type=self.job_type,
            source_id=source_id,
            item_id=item_id,
            worker=liveness.worker_identity(),
        )

    def finish(self, job: jobs.Job, outcome: _Outcome) -> None:
        jobs.job_finish(job, state=outcome.state or State.SUCCESS, error=outcome.error)

    def run_recorded(self, function, *, source_id: int | None = None, item_id: int | None = None):
        """``function(job, outcome)``, with the execution's job record around it."""
        job = self.record(source_id=source_id, item_id=item_id)
        outcome = _Outcome()
        try:
            result = function(job, outcome)
        except Exception as exc:  # Retry and Ignore included: recorded, then handed to Celery
            outcome.from_exception(exc)
            self.finish(job, outcome)
            raise
        # (Anything else means the process is going away, a shutdown or a
        # kill: the record stays STARTED and the recovery check counts it lost.)
        self.finish(job, outcome)
        return result


class PipelineTask(RecordedTask):
    """A step of the pipeline; its ``step`` comes from the table by task name."""

    @property
    def step(self) -> Step:
        return steps.STEPS_BY_TASK_NAME[self.name]

    @property
    def job_type(self) -> str:  # type: ignore[override]
        return self.step.job_type

    def execute(self, *, source_id: int, item_id: int | None = None) -> int | None:
        return self.run_recorded(
            lambda job, outcome: self._execute(job, outcome, source_id=source_id, item_id=item_id),
            source_id=source_id,
            item_id=item_id,
        )

    def _execute(
        self, job: jobs.Job, outcome: _Outcome, *, source_id: int, item_id: int | None
    ) -> int | None:
        step = self.step
        started = time.monotonic()
        if job.lost >= settings.PIPELINE_MAX_ATTEMPTS:
            return self._fail(
                step,
                f"The worker running this step was lost {job.lost} times; the step was given up.",
                source_id=source_id,
                item_id=item_id,
            )
        if not step.is_item and not lifecycle.enter_stage(source_id=source_id, stage=step.stage):
            raise Ignore()  # the source moved on, failed, or was deleted
        arguments: dict[str, Any] = {"source_id": source_id}
        if step.is_item:
            assert step.item_model is not None and item_id is not None
            if job.takes_over:
                # This message's last execution died holding the item.
                services.item_release(model=step.item_model, item_id=item_id)
            arguments["item_id"] = item_id
        try:
            result = step.run(**arguments)
        except RateLimited as exc:
            countdown = min(settings.TASK_RETRY_DELAY_MAX, exc.retry_after * random.uniform(1.0, 1.5))
            lifecycle.wait_for_rate_limit(source_id=source_id, provider=exc.provider, seconds=countdown)
            outcome.set(State.WAITING, str(exc))
            raise self.retry(countdown=countdown) from None
        except services.NotReady as exc:
            if job.retries >= settings.JOIN_MAX_WAITS:
                # Left in its stage: the watchdog resumes the source.
                logger.warning("source %s: gave up waiting (%s)", source_id, exc)
                raise Ignore() from exc
            raise self.retry(exc=exc, countdown=retry_delay(job.retries)) from exc
        except INFRASTRUCTURE_ERRORS as exc:
            if job.retries >= settings.TASK_MAX_RETRIES:
                raise  # given up: the source waits for the watchdog
            raise self.retry(exc=exc, countdown=retry_delay(job.retries)) from exc
        except PipelineError as exc:
            if exc.transient and job.retries < settings.TASK_MAX_RETRIES:
                raise self.retry(exc=exc, countdown=retry_delay(job.retries)) from exc
            message = str(exc)
        except SoftTimeLimitExceeded:
            message = f"The step took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped."
        except MemoryError:
            message = "The step needed more memory than the worker has."
        except DatabaseError:
            logger.exception("database error in %s for source %s", step.job_type, source_id)
            message = f"An internal database error stopped the pipeline in {step.stage}."
        except Exception:
            logger.exception("unexpected error in %s for source %s", step.job_type, source_id)
            message = f"An internal error stopped the pipeline in {step.stage}."
        else:
            logger.info("%s done in %.0f ms", step.job_type, (time.monotonic() - started) * 1000)
            return self._after(step, result, outcome, source_id=source_id, item_id=item_id)
        return self._fail(step, message, source_id=source_id, item_id=item_id)

    def _after(
        self, step: Step, result: Any, outcome: _Outcome, *, source_id: int, item_id: int | None
    ) -> int | None:
        if step.fan_out is not None and result is not None:
            self._fan_out(step, list(result), outcome, source_id=source_id)
        if step.is_item:
            lifecycle.touch(source_id=source_id)
            return item_id  # chord results stay tiny: the join reads the database
        lifecycle.step_done(source_id=source_id, step=step)
        return None

    def _fan_out(self, step: Step, item_ids: list[int], outcome: _Outcome, *, source_id: int) -> None:
        assert step.fan_out is not None
        if item_ids and step.fan_out.item.stage != step.stage:
            lifecycle.enter_stage(source_id=source_id, stage=step.fan_out.item.stage)
        # The rest of the chain follows the chord's join. It goes into the
        # chord's body here: left to replace(), it would turn the body into a
        # new chain without the body's error callback, which Celery calls when
        # the chord fails. This is the one place that rewrites the request's
        # chain (Celery offers no option for it).
        rest = [signature(task, app=self.app) for task in reversed(self.request.chain or [])]
        self.request.chain = None
        outcome.set(State.SUCCESS, f"replaced by chord({step.fan_out.item.job_type} x {len(item_ids)})")
        raise self.replace(canvas.fan_out_signature(step, source_id=source_id, item_ids=item_ids, then=rest))

    def _fail(self, step: Step, message: str, *, source_id: int, item_id: int | None) -> int | None:
        """Apply the step's failure policy."""
        if step.on_failure is OnFailure.RECORD_ON_ITEM:
            assert step.item_model is not None and item_id is not None
            services.item_fail(model=step.item_model, item_id=item_id, message=message)
            lifecycle.touch(source_id=source_id)
            return item_id  # an outcome of the item, not a failure of the chord
        if step.on_failure is OnFailure.FINISH_WITH_ERRORS:
            lifecycle.finish(source_id=source_id, error=f"{step.failure_prefix}{message}")
        else:
            lifecycle.fail(source_id=source_id, stage=step.stage, message=message)
        raise StepFailed(message)


class MaintenanceTask(RecordedTask):
    """A task outside the chain (resume, watchdog, recovery), recorded too."""

    maintenance: Maintenance

    @property
    def job_type(self) -> str:  # type: ignore[override]
        return self.maintenance.job_type


def _step_task(step: Step):
    """The task of a step: a line that hands over to PipelineTask.execute."""
    if step.is_item:

        def run_item(self: PipelineTask, *, source_id: int, item_id: int) -> int | None:
            return self.execute(source_id=source_id, item_id=item_id)

        body = run_item
    else:

        def run_step(self: PipelineTask, *, source_id: int) -> int | None:
            return self.execute(source_id=source_id)

        body = run_step
    body.__name__ = body.__qualname__ = step.job_type.lower()
    return shared_task(bind=True, base=PipelineTask, name=step.task_name)(body)


STEP_TASKS = {step.job_type: _step_task(step) for step in steps.all_steps()}


@shared_task(
    bind=True, base=MaintenanceTask, name=steps.RESUME_SOURCE.task_name, maintenance=steps.RESUME_SOURCE
)
def resume_source(self: MaintenanceTask, *, source_id: int, reason: str = "no progress") -> None:
    self.run_recorded(
        lambda job, outcome: lifecycle.resume(source_id=source_id, reason=reason), source_id=source_id
    )


@shared_task(bind=True, base=MaintenanceTask, name=steps.WATCHDOG.task_name, maintenance=steps.WATCHDOG)
def watchdog(self: MaintenanceTask) -> int:
    """Resume every source stuck in a stage longer than PIPELINE_STUCK_AFTER."""

    def run(job, outcome) -> int:
        stuck = lifecycle.stuck_sources()
        for source_id in stuck:
            resume_source.delay(
                source_id=source_id, reason=f"no progress for {settings.PIPELINE_STUCK_AFTER} s"
            )
        return len(stuck)

    return self.run_recorded(run)


@shared_task(
    bind=True,
    base=MaintenanceTask,
    name=steps.RECOVER_LOST_WORK.task_name,
    maintenance=steps.RECOVER_LOST_WORK,
)
def recover_lost_work(self: MaintenanceTask) -> int:
    """Start again, at once, the steps whose worker stopped proving it is alive."""
    return self.run_recorded(lambda job, outcome: recovery.recover_lost_work())
