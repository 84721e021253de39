"""The pipeline, declared once.

Each row of ``PIPELINE`` is a step of the chain, in order. A step says which
stage the source is in while it runs, its job type (the name people see in
the admin, also its task's name), the queue it runs on, a label for people,
the service function that does its work and what a failure means. A step may
fan out: its service then returns the ids of the items to work on, and the
canvas runs ``chord(item step x N) -> join step``; the join step ends it.

Everything else is derived from this table: the tasks' names and routes, the
job types of the job records, the labels of the progress display, the order
of stages (a stage never moves backwards), and where a stopped or stuck
source resumes. Adding a step is one row here and one service function.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from notes.models import AudioSegment, Source, TextChunk, Visual

from . import services

Stage = Source.Stage

QUEUE_BOOKKEEPING = "bookkeeping"
QUEUE_AI = "ai"
QUEUE_IMAGES = "images"


class OnFailure(enum.Enum):
    """What a step's failure (after its retries) means for the source."""

    # FAILED, in the stage the step runs in, with a readable message.
    FAIL_SOURCE = "fail the source"
    # COMPLETED_WITH_ERRORS: what is done stays usable (the note).
    FINISH_WITH_ERRORS = "finish with errors"
    # The item (a visual, a text chunk) records the failure; the chord goes on
    # and the join step decides what it means.
    RECORD_ON_ITEM = "record on the item"


@dataclass(frozen=True)
class Step:
    job_type: str
    stage: str
    queue: str
    label: str
    # The service function: run(source_id=...) for a step, or
    # run(source_id=..., item_id=...) for the item step of a fan-out.
    run: Callable[..., Any]
    on_failure: OnFailure = OnFailure.FAIL_SOURCE
    # Shown before the failure's own message (FINISH_WITH_ERRORS).
    failure_prefix: str = ""
    # The item step of a fan-out: the model of its items (RECORD_ON_ITEM).
    item_model: type[Visual] | type[TextChunk] | type[AudioSegment] | None = None
    fan_out: FanOut | None = None
    # The stage a source waits in between the previous step and this one.
    waiting_stage: str | None = None
    # Whether the step applies to a source (None: always).
    applies_to: Callable[[Source], bool] | None = None

    @property
    def task_name(self) -> str:
        return f"pipeline.{self.job_type.lower()}"

    @property
    def is_item(self) -> bool:
        return self.item_model is not None

    def applies(self, source: Source) -> bool:
        return self.applies_to is None or self.applies_to(source)


@dataclass(frozen=True)
class FanOut:
    """``chord(item x N) -> join``: the join runs once every item is final."""

    item: Step
    join: Step


def _needs_extraction(source: Source) -> bool:
    return source.kind != Source.Kind.TEXT


EXTRACT_SOURCE_TEXT = Step(
    job_type="EXTRACT_SOURCE_TEXT",
    stage=Stage.EXTRACTING_TEXT,
    queue=QUEUE_AI,
    label="Extracting text",
    run=services.source_extract_text,
    applies_to=_needs_extraction,
    fan_out=FanOut(
        item=Step(
            job_type="TRANSCRIBE_AUDIO_SEGMENT",
            stage=Stage.EXTRACTING_TEXT,
            queue=QUEUE_AI,
            label="Transcribing the recording, part by part",
            run=services.segment_transcribe,
            on_failure=OnFailure.RECORD_ON_ITEM,
            item_model=AudioSegment,
        ),
        join=Step(
            job_type="JOIN_TRANSCRIPT",
            stage=Stage.EXTRACTING_TEXT,
            queue=QUEUE_BOOKKEEPING,
            label="Joining the parts of the transcript",
            run=services.source_join_transcript,
        ),
    ),
)

PROCESS_SOURCE_TEXT = Step(
    job_type="PROCESS_SOURCE_TEXT",
    stage=Stage.ANALYZING_TEXT,
    queue=QUEUE_AI,
    label="Writing the lesson structure",
    run=services.source_analyze_text,
    fan_out=FanOut(
        item=Step(
            job_type="ANALYZE_TEXT_CHUNK",
            stage=Stage.ANALYZING_TEXT,
            queue=QUEUE_AI,
            label="Writing the lesson structure, part by part",
            run=services.chunk_analyze,
            on_failure=OnFailure.RECORD_ON_ITEM,
            item_model=TextChunk,
        ),
        join=Step(
            job_type="MERGE_LESSON_STRUCTURE",
            stage=Stage.ANALYZING_TEXT,
            queue=QUEUE_BOOKKEEPING,
            label="Joining the parts of the lesson structure",
            run=services.source_merge_chunks,
        ),
    ),
)

PROCESS_VISUAL_PLACEHOLDERS = Step(
    job_type="PROCESS_VISUAL_PLACEHOLDERS",
    stage=Stage.PENDING_VISUAL_PROCESSING,
    queue=QUEUE_BOOKKEEPING,
    label="Planning visuals",
    run=services.source_create_visuals,
    fan_out=FanOut(
        item=Step(
            job_type="GENERATE_VISUAL",
            stage=Stage.GENERATING_VISUALS,
            queue=QUEUE_IMAGES,
            label="Finding images",
            run=services.visual_generate,
            on_failure=OnFailure.RECORD_ON_ITEM,
            item_model=Visual,
        ),
        join=Step(
            job_type="ASSEMBLE_NOTE",
            stage=Stage.ASSEMBLING_NOTE,
            queue=QUEUE_BOOKKEEPING,
            label="Assembling the note",
            run=services.note_assemble,
        ),
    ),
)

GENERATE_STUDY_TOOLS = Step(
    job_type="GENERATE_STUDY_TOOLS",
    stage=Stage.GENERATING_STUDY_TOOLS,
    waiting_stage=Stage.PENDING_STUDY_TOOLS,
    queue=QUEUE_AI,
    label="Writing quiz and flashcards",
    run=services.study_tools_generate,
    on_failure=OnFailure.FINISH_WITH_ERRORS,
    failure_prefix="Quiz and flashcards could not be generated: ",
)

# The chain, in order.
PIPELINE: tuple[Step, ...] = (
    EXTRACT_SOURCE_TEXT,
    PROCESS_SOURCE_TEXT,
    PROCESS_VISUAL_PLACEHOLDERS,
    GENERATE_STUDY_TOOLS,
)


@dataclass(frozen=True)
class Maintenance:
    """A task that is not a step of a source's chain (it has a job type and a
    queue, but no stage)."""

    job_type: str
    label: str
    queue: str = QUEUE_BOOKKEEPING

    @property
    def task_name(self) -> str:
        return f"pipeline.{self.job_type.lower()}"


RESUME_SOURCE = Maintenance("RESUME_SOURCE", "Resuming a source")
WATCHDOG = Maintenance("WATCHDOG", "Looking for stuck sources")
RECOVER_LOST_WORK = Maintenance("RECOVER_LOST_WORK", "Restarting work of lost workers")
MAINTENANCE: tuple[Maintenance, ...] = (RESUME_SOURCE, WATCHDOG, RECOVER_LOST_WORK)


# --- derived ---------------------------------------------------------------------------


def all_steps() -> Iterator[Step]:
    """Every step, fan-out items and joins included, in pipeline order."""
    for step in PIPELINE:
        yield step
        if step.fan_out is not None:
            yield step.fan_out.item
            yield step.fan_out.join


STEPS_BY_JOB_TYPE: dict[str, Step] = {step.job_type: step for step in all_steps()}
STEPS_BY_TASK_NAME: dict[str, Step] = {step.task_name: step for step in all_steps()}

# Job types of the job records: every step's, then the maintenance tasks'.
JOB_TYPES: tuple[tuple[str, str], ...] = (
    *((step.job_type, step.job_type.replace("_", " ").title()) for step in all_steps()),
    *((task.job_type, task.job_type.replace("_", " ").title()) for task in MAINTENANCE),
)


def _stage_order() -> tuple[str, ...]:
    order: list[str] = []
    for step in all_steps():
        for stage in (step.waiting_stage, step.stage):
            if stage is not None and stage not in order:
                order.append(stage)
    return tuple(order)


# Every stage in the order a source passes through them.
STAGE_ORDER: tuple[str, ...] = _stage_order()

STAGE_LABELS: dict[str, str] = {}
for _step in all_steps():
    STAGE_LABELS.setdefault(_step.stage, _step.label)
    if _step.waiting_stage is not None:
        STAGE_LABELS.setdefault(_step.waiting_stage, f"Waiting: {_step.label[0].lower()}{_step.label[1:]}")


def stages_up_to(stage: str) -> tuple[str, ...]:
    """The stages a source may be in to enter ``stage``: those of its chain
    step and of every step before it. A source never goes back to an
    earlier chain step (a redelivered early step stops), but within a step it
    may (a resumed fan-out plans its items again)."""
    last = PIPELINE.index(owner_of(stage))
    return tuple(candidate for candidate in STAGE_ORDER if PIPELINE.index(owner_of(candidate)) <= last)


def owner_of(stage: str) -> Step:
    """The chain step that a source in ``stage`` belongs to (so resumes from):
    the step itself, or the step whose fan-out (items, join) or waiting stage
    it is."""
    for step in PIPELINE:
        stages = {step.stage, step.waiting_stage}
        if step.fan_out is not None:
            stages |= {step.fan_out.item.stage, step.fan_out.join.stage}
        if stage in stages:
            return step
    raise KeyError(stage)


def steps_for(source: Source, *, from_stage: str | None = None) -> list[Step]:
    """The chain steps that take ``source`` from ``from_stage`` (None: the
    beginning) to the end."""
    steps = [step for step in PIPELINE if step.applies(source)]
    if from_stage is None:
        return steps
    start = owner_of(from_stage)
    return steps[steps.index(start) :] if start in steps else steps


def next_step(step: Step, source: Source) -> Step | None:
    """The chain step after ``step`` for this source (None: it was the last)."""
    steps = [candidate for candidate in PIPELINE if candidate.applies(source)]
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else None


def chain_step_of(step: Step) -> Step:
    """The chain step a step belongs to: itself, or the step it is the item or
    join of."""
    for candidate in PIPELINE:
        if candidate is step or (
            candidate.fan_out is not None and step in (candidate.fan_out.item, candidate.fan_out.join)
        ):
            return candidate
    raise KeyError(step.job_type)


def item_models() -> tuple[type[Visual] | type[TextChunk] | type[AudioSegment], ...]:
    return tuple(step.item_model for step in all_steps() if step.item_model is not None)


def queues() -> tuple[str, ...]:
    """Every queue the pipeline uses (a worker line must consume them all)."""
    seen: list[str] = []
    for queue in (*(step.queue for step in all_steps()), *(task.queue for task in MAINTENANCE)):
        if queue not in seen:
            seen.append(queue)
    return tuple(seen)


def check_configuration() -> None:
    """The table's own consistency; called by a test and at worker start."""
    assert set(STAGE_ORDER) == set(Stage.values), "every stage belongs to exactly one step"
    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues()
    for step in all_steps():
        assert (step.on_failure is OnFailure.RECORD_ON_ITEM) == step.is_item
