"""The pipeline as a Celery canvas, built from the step table.

    chain(
      EXTRACT_SOURCE_TEXT            (not for TEXT sources)
      PROCESS_SOURCE_TEXT            a long text: chord(ANALYZE_TEXT_CHUNK x N) -> MERGE_LESSON_STRUCTURE
      PROCESS_VISUAL_PLACEHOLDERS    chord(GENERATE_VISUAL x N) -> ASSEMBLE_NOTE  (N = 0: the join alone)
      GENERATE_STUDY_TOOLS
    )

A fan-out is built at run time, when its step knows N, and replaces that
step in the chain (pipeline.tasks.PipelineTask.fan_out). A stopped or stuck
source resumes from its stage with the same steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import chain, chord, signature
from celery.canvas import Signature
from django.db import transaction

from notes.models import Source

from . import steps
from .steps import MAINTENANCE, RESUME_SOURCE, Step


def step_signature(step: Step, *, source_id: int, item_id: int | None = None) -> Signature:
    kwargs: dict = {"source_id": source_id}
    if item_id is not None:
        kwargs["item_id"] = item_id
    return signature(step.task_name, kwargs=kwargs, immutable=True)


def pipeline_signature(source: Source, *, from_stage: str | None = None) -> Signature:
    """The chain that takes a source from ``from_stage`` (None: the start) to the end."""
    return chain(
        *(
            step_signature(step, source_id=source.pk)
            for step in steps.steps_for(source, from_stage=from_stage)
        )
    )


def resume_signature(*, source_id: int, reason: str) -> Signature:
    return signature(
        RESUME_SOURCE.task_name, kwargs={"source_id": source_id, "reason": reason}, immutable=True
    )


def fan_out_signature(
    step: Step, *, source_id: int, item_ids: Sequence[int], then: Sequence[Signature] = ()
) -> Signature:
    """``chord(item x N) -> join``, followed by ``then`` (the rest of the
    chain). No items: the join alone.

    The join is Redis's, not ours. If the chord itself fails (a header task
    lost to a hard time limit), the error callback resumes the source.
    """
    assert step.fan_out is not None
    join = step_signature(step.fan_out.join, source_id=source_id)
    body = chain(join, *then) if then else join
    if not item_ids:
        return body
    header = [step_signature(step.fan_out.item, source_id=source_id, item_id=item_id) for item_id in item_ids]
    # On the body itself (a chain's own options, when there is a `then`): a
    # failed chord calls the error callbacks of its body signature only.
    body.link_error(resume_signature(source_id=source_id, reason=f"the chord of {step.job_type} failed"))
    return chord(header, body)


def enqueue(source: Source, *, from_stage: str | None = None) -> None:
    """Send the pipeline once the current transaction commits, so a worker
    never looks for a row it cannot see yet."""
    pipeline = pipeline_signature(source, from_stage=from_stage)

    def send_pipeline() -> None:
        # ignore_result (the first step's only; nobody waits for it): otherwise
        # the Redis result backend subscribes the sender (a web request) to that
        # result, and with Redis down the subscription alone retries for ~20 s.
        pipeline.apply_async(ignore_result=True)

    # robust: with the broker down the source stays PENDING and the watchdog
    # starts it once the broker is back, rather than the request failing.
    # (A named function, not a partial: Django logs a robust hook's failure
    # with its __qualname__.)
    transaction.on_commit(send_pipeline, robust=True)


def route_task(name: str, args, kwargs, options, task=None, **_) -> dict | None:
    """Celery's router (CELERY_TASK_ROUTES): every step's and maintenance
    task's queue comes from the step table."""
    step = steps.STEPS_BY_TASK_NAME.get(name)
    if step is not None:
        return {"queue": step.queue}
    for maintenance in MAINTENANCE:
        if maintenance.task_name == name:
            return {"queue": maintenance.queue}
    return None
