"""The whole pipeline as a Celery canvas, in one place.

    chain(
      EXTRACT_SOURCE_TEXT            (not for TEXT sources)
      PROCESS_SOURCE_TEXT
      PROCESS_VISUAL_PLACEHOLDERS    replaces itself, at run time, with
        chord(GENERATE_VISUAL x N) -> ASSEMBLE_NOTE      (N = 0: ASSEMBLE_NOTE alone)
      GENERATE_STUDY_TOOLS           chained after the chord's callback
    )

A stopped or stuck source resumes from its stage with the same steps.
"""

from collections.abc import Sequence

from celery import chain, chord
from celery.canvas import Signature
from django.db import transaction

from notes.models import Source

Stage = Source.Stage


def _steps_from(stage: str | None, *, needs_extraction: bool) -> list[str]:
    from . import tasks

    if stage is None:
        stage = Stage.EXTRACTING_TEXT if needs_extraction else Stage.ANALYZING_TEXT
    if stage == Stage.EXTRACTING_TEXT:
        steps = [tasks.extract_source_text, tasks.process_source_text]
    elif stage == Stage.ANALYZING_TEXT:
        steps = [tasks.process_source_text]
    elif stage in (Stage.PENDING_VISUAL_PROCESSING, Stage.GENERATING_VISUALS, Stage.ASSEMBLING_NOTE):
        # Fanning out again is cheap and safe: only visuals that are not final
        # join the new chord, and with none left it goes straight to assembly.
        steps = []
    else:
        return [tasks.generate_study_tools]
    return [*steps, tasks.process_visual_placeholders, tasks.generate_study_tools]


def pipeline_signature(*, source_id: int, needs_extraction: bool, stage: str | None = None) -> Signature:
    """The chain that takes a source from `stage` (None: the start) to the end."""
    steps = _steps_from(stage, needs_extraction=needs_extraction)
    return chain(*(step.si(source_id=source_id) for step in steps))


def visuals_signature(*, source_id: int, visual_ids: list[int], then: Sequence[Signature] = ()) -> Signature:
    """The runtime fan-out: a chord of GENERATE_VISUAL joined by ASSEMBLE_NOTE,
    followed by `then` (the rest of the pipeline's chain).

    The join is Redis's, not ours. If the chord itself fails (a header task
    lost to a hard time limit), the error callback resumes the source.
    """
    from . import tasks

    assemble = tasks.assemble_note.si(source_id=source_id)
    body = chain(assemble, *then) if then else assemble
    if not visual_ids:
        return body
    header = [tasks.generate_visual.si(source_id=source_id, visual_id=visual_id) for visual_id in visual_ids]
    # On the body itself (a chain's own options, when there is a `then`): a
    # failed chord calls the error callbacks of its body signature only.
    body.link_error(tasks.resume_source.si(source_id=source_id, reason="the visuals' chord failed"))
    return chord(header, body)


def enqueue_pipeline(source: Source, *, stage: str | None = None) -> None:
    """Send the pipeline once the current transaction commits, so a worker
    never looks for a row it cannot see yet."""
    signature = pipeline_signature(source_id=source.pk, needs_extraction=source.needs_extraction, stage=stage)

    def send_pipeline() -> None:
        # ignore_result (the first step's only; nobody waits for it): otherwise
        # the Redis result backend subscribes the sender (a web request) to that
        # result, and with Redis down the subscription alone retries for ~20 s.
        signature.apply_async(ignore_result=True)

    # robust: with the broker down the source stays PENDING and the watchdog
    # starts it once the broker is back, rather than the request failing.
    # (A named function, not a partial: Django logs a robust hook's failure
    # with its __qualname__.)
    transaction.on_commit(send_pipeline, robust=True)
