"""Celery tasks: thin. Each loads ids, calls a service, records the outcome.

Failure policy (SPEC section 3):
- a provider or extraction failure, once the provider chain has done its own
  retries, marks the source FAILED in the stage it happened in and stops the
  chain (StepFailed is the task's expected error, logged without traceback);
- database and broker hiccups retry the task with backoff;
- GENERATE_VISUAL never fails for a provider error: the visual records it.
"""

import logging
import random
import time

from celery import shared_task, signature
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notes.models import Source

from . import canvas, services
from .extractors.base import ExtractionError
from .providers.base import ProviderError, RateLimited
from .signals import executions_lost, job_replaced

logger = logging.getLogger(__name__)

Stage = Source.Stage

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
    """A step failed for good; the source already says why."""


class PoisonTask(Exception):
    def __init__(self, lost: int) -> None:
        super().__init__(f"The worker running this step was lost {lost} times; the step was given up.")


def _retry_delay(retries: int) -> float:
    """Exponential backoff with jitter, capped well below the visibility timeout."""
    return min(settings.TASK_RETRY_DELAY_MAX, 2**retries) * random.uniform(0.5, 1.0)


PIPELINE_TASK_OPTIONS = {
    "bind": True,
    "autoretry_for": INFRASTRUCTURE_ERRORS,
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "throws": (StepFailed,),
}


# A step rescheduled by the shared rate limit comes back this many times at most.
RATE_LIMITED_MAX_RETRIES = 100


def reschedule(task, exc: RateLimited):
    """Come back when the shared rate limit has room again."""
    countdown = min(settings.TASK_RETRY_DELAY_MAX, (exc.retry_after or 1.0) * random.uniform(1.0, 2.0))
    return task.retry(exc=exc, countdown=countdown, max_retries=RATE_LIMITED_MAX_RETRIES)


def lost_too_often(task) -> int | None:
    """How many earlier executions of this very task died with their worker
    (a poison message), when that reaches PIPELINE_MAX_ATTEMPTS; else None.
    Without this, reject-on-worker-lost would requeue it forever."""
    lost = executions_lost(task.request.id)
    return lost if lost >= settings.PIPELINE_MAX_ATTEMPTS else None


def run_step(task, *, source_id: int, stage: str, step, passthrough=(), on_failure=None):
    """Run one step's service and turn its failure into the source's state:
    FAILED in `stage` by default, or whatever `on_failure(message)` records."""
    started = time.monotonic()
    try:
        if lost := lost_too_often(task):
            raise PoisonTask(lost)
        result = step(source_id=source_id)
        logger.info("%s done in %.0f ms", stage, (time.monotonic() - started) * 1000)
        return result
    except (*INFRASTRUCTURE_ERRORS, *passthrough):
        raise  # autoretry, or the caller's own handling
    except RateLimited as exc:
        raise reschedule(task, exc) from exc
    except PoisonTask as exc:
        message = str(exc)
    except (ProviderError, ExtractionError) as exc:
        if exc.transient and task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=_retry_delay(task.request.retries)) from exc
        message = str(exc)
    except SoftTimeLimitExceeded:
        message = f"The step took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped."
    except DatabaseError:
        logger.exception("database error in %s for source %s", stage, source_id)
        message = f"An internal database error stopped the pipeline in {stage}."
    except Exception:
        logger.exception("unexpected error in %s for source %s", stage, source_id)
        message = f"An internal error stopped the pipeline in {stage}."
    if on_failure is None:
        services.source_fail(source_id=source_id, stage=stage, message=message)
    else:
        on_failure(message)
    raise StepFailed(message)


@shared_task(name="pipeline.extract_source_text", **PIPELINE_TASK_OPTIONS)
def extract_source_text(self, *, source_id: int) -> None:
    run_step(self, source_id=source_id, stage=Stage.EXTRACTING_TEXT, step=services.source_extract_text)


@shared_task(name="pipeline.process_source_text", **PIPELINE_TASK_OPTIONS)
def process_source_text(self, *, source_id: int) -> None:
    run_step(self, source_id=source_id, stage=Stage.ANALYZING_TEXT, step=services.source_analyze_text)


@shared_task(name="pipeline.process_visual_placeholders", **PIPELINE_TASK_OPTIONS)
def process_visual_placeholders(self, *, source_id: int):
    visual_ids = run_step(
        self, source_id=source_id, stage=Stage.PENDING_VISUAL_PROCESSING, step=services.source_create_visuals
    )
    if visual_ids is None:
        # The source was deleted or stopped meanwhile: end the chain here.
        raise Ignore()
    # The rest of the chain (GENERATE_STUDY_TOOLS) follows the chord's callback.
    # It goes into the chord's body here: left to replace(), it would turn the
    # body into a new chain without the body's error callback, which Celery
    # calls when the chord fails.
    rest = [signature(step, app=self.app) for step in reversed(self.request.chain or [])]
    self.request.chain = None
    job_replaced(self.request.id)
    raise self.replace(canvas.visuals_signature(source_id=source_id, visual_ids=visual_ids, then=rest))


@shared_task(name="pipeline.generate_visual", **PIPELINE_TASK_OPTIONS)
def generate_visual(self, *, source_id: int, visual_id: int) -> int:
    # Returns the id only: chord results stay tiny, the callback reads the database.
    if lost := lost_too_often(self):
        services.visual_fail(visual_id=visual_id, message=str(PoisonTask(lost)))
        return visual_id
    try:
        services.visual_generate(visual_id=visual_id)
    except RateLimited as exc:
        raise reschedule(self, exc) from exc
    except SoftTimeLimitExceeded:
        # Too slow is a provider failure too: the visual records it and the
        # chord goes on (an exception here would fail the whole chord).
        services.visual_fail(
            visual_id=visual_id,
            message=f"The image search took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s "
            "and was stopped.",
        )
    return visual_id


@shared_task(name="pipeline.assemble_note", **PIPELINE_TASK_OPTIONS)
def assemble_note(self, *, source_id: int) -> None:
    try:
        note_id = run_step(
            self,
            source_id=source_id,
            stage=Stage.ASSEMBLING_NOTE,
            step=services.note_assemble,
            passthrough=(services.VisualsNotReady,),
        )
    except services.VisualsNotReady as exc:
        if self.request.retries >= settings.ASSEMBLE_MAX_WAITS:
            # Leave the source in ASSEMBLING_NOTE: the watchdog resumes it.
            logger.warning("source %s: gave up waiting for visuals (%s)", source_id, exc)
            raise Ignore() from exc
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries), max_retries=None) from exc
    if note_id is None:
        raise Ignore()


@shared_task(name="pipeline.generate_study_tools", **PIPELINE_TASK_OPTIONS)
def generate_study_tools(self, *, source_id: int) -> None:
    # Whatever goes wrong here, the note stands: COMPLETED_WITH_ERRORS.
    run_step(
        self,
        source_id=source_id,
        stage=Stage.GENERATING_STUDY_TOOLS,
        step=services.study_tools_generate,
        on_failure=lambda message: services.source_finish(
            source_id=source_id, error=f"Quiz and flashcards could not be generated: {message}"
        ),
    )


@shared_task(name="pipeline.resume_source", **PIPELINE_TASK_OPTIONS)
def resume_source(self, *, source_id: int, reason: str = "no progress") -> None:
    source = services.source_claim_resume(source_id=source_id, reason=reason)
    if source is None:
        return
    canvas.enqueue_pipeline(source, stage=source.processing_stage)


@shared_task(name="pipeline.watchdog", bind=True)
def watchdog(self) -> int:
    """Resume every source stuck in a stage longer than PIPELINE_STUCK_AFTER."""
    stuck = services.stuck_sources()
    for source_id in stuck:
        resume_source.delay(source_id=source_id, reason=f"no progress for {settings.PIPELINE_STUCK_AFTER} s")
    return len(stuck)
