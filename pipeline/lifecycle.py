"""A source's life: the only code that writes ``processing_status`` and
``processing_stage``.

    create -> PENDING -> PROCESSING (stage by stage, never backwards)
           -> COMPLETED | COMPLETED_WITH_ERRORS (stage null) | FAILED (stage kept)
    retry  (FAILED, COMPLETED_WITH_ERRORS) -> PROCESSING again, from where it stopped
    resume (stuck, a chord error, a lost worker) -> the same stage, counted

The API, the admin, the command line, the tasks and the watchdog all come
here. Every write is a conditional update on an active source, so a write
that comes too late (a source deleted, failed or finished meanwhile, a
redelivered early step) changes nothing and says so.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from notes.models import AudioSegment, Source

from . import canvas, services, steps

logger = logging.getLogger(__name__)

Status = Source.Status

MAX_MESSAGE_CHARS = 2000


def _active(source_id: int) -> QuerySet[Source]:
    return Source.objects.filter(pk=source_id, processing_status__in=Source.ACTIVE_STATUSES)


# --- create, delete ----------------------------------------------------------------------


@transaction.atomic
def source_create(
    *,
    owner,
    kind: str,
    title: str = "",
    text: str = "",
    url: str = "",
    upload: UploadedFile | None = None,
    original_filename: str = "",
    language: str = "",
) -> Source:
    """Create a source (PENDING) and enqueue its pipeline, in one transaction:
    the task is sent only once the row is committed. An upload stored for a
    source that is not created is deleted again."""
    source = Source(owner=owner, kind=kind, title=title, input_text=text, url=url, language=language)
    if upload is not None:
        source.original_filename = original_filename
        # The stored name comes from source_upload_path (random), not from
        # the client's file name.
        source.file.save(upload.name or "upload", upload, save=False)
    try:
        source.save()
        canvas.enqueue(source)
    except BaseException:
        if source.file:
            source.file.delete(save=False)
        raise
    logger.info("source %s created (%s) by user %s", source.pk, kind, owner.pk)
    return source


def source_delete(*, source: Source) -> None:
    """Delete a source with its visuals, note, quiz and cards; its uploaded
    file and the kept parts of a long recording go once the deletion is
    committed (a rollback keeps all)."""
    source_id, storage = source.pk, source.file.storage
    names = [source.file.name] if source.file else []
    names += [
        part for part in AudioSegment.objects.filter(source=source).values_list("part", flat=True) if part
    ]
    with transaction.atomic():
        source.delete()
        if names:

            def delete_files() -> None:
                # A named function: Django logs a failed robust hook by its
                # __qualname__, which a partial does not have.
                for name in names:
                    storage.delete(name)

            transaction.on_commit(delete_files, robust=True)
    logger.info("source %s deleted", source_id)


# --- moving through the stages -------------------------------------------------------------


def enter_stage(*, source_id: int, stage: str) -> bool:
    """Move an active source into ``stage``, never backwards. False when the
    source is gone, no longer active, or already past ``stage`` (a
    redelivered early step): the caller then stops."""
    now = timezone.now()
    earlier = Q(processing_stage__isnull=True) | Q(processing_stage__in=steps.stages_up_to(stage))
    return bool(
        _active(source_id)
        .filter(earlier)
        .update(processing_status=Status.PROCESSING, processing_stage=stage, progress_at=now, updated_at=now)
    )


def touch(*, source_id: int) -> None:
    """Record progress, so the watchdog leaves a long but living stage alone."""
    _active(source_id).update(progress_at=timezone.now())


def wait_for_rate_limit(*, source_id: int, provider: str, seconds: float) -> None:
    """The source waits for room under ``provider``'s shared rate limit: that
    is progress (the watchdog leaves it alone), and the API shows it."""
    now = timezone.now()
    _active(source_id).update(
        progress_at=now,
        waiting_until=now + timedelta(seconds=seconds),
        waiting_reason=f"waiting for the {provider} rate limit"[:120],
    )


def step_done(*, source_id: int, step: steps.Step) -> None:
    """A chain step (or the join of its fan-out) finished: the source waits
    for the next step, or it is done."""
    chain_step = steps.chain_step_of(step)
    following = steps.PIPELINE[steps.PIPELINE.index(chain_step) + 1 :]
    if not following:
        finish(source_id=source_id)
    elif following[0].waiting_stage is not None:
        enter_stage(source_id=source_id, stage=following[0].waiting_stage)


def fail(*, source_id: int, stage: str | None, message: str) -> None:
    """FAILED keeps the stage it failed in and a readable message."""
    now = timezone.now()
    _active(source_id).update(
        processing_status=Status.FAILED,
        processing_stage=stage,
        error_message=message[:MAX_MESSAGE_CHARS],
        progress_at=now,
        updated_at=now,
    )
    logger.warning("source %s failed in %s: %s", source_id, stage, message)


def finish(*, source_id: int, error: str = "") -> None:
    """COMPLETED, or COMPLETED_WITH_ERRORS with the reason; the stage is null."""
    now = timezone.now()
    _active(source_id).update(
        processing_status=Status.COMPLETED_WITH_ERRORS if error else Status.COMPLETED,
        processing_stage=None,
        error_message=error[:MAX_MESSAGE_CHARS],
        progress_at=now,
        updated_at=now,
    )


def fail_by_admin(*, source_ids: list[int], message: str) -> int:
    """Stop running sources; each keeps the stage it was stopped in. Returns
    how many were running."""
    running = list(
        Source.objects.filter(pk__in=source_ids, processing_status__in=Source.ACTIVE_STATUSES).values_list(
            "pk", "processing_stage"
        )
    )
    for source_id, stage in running:
        fail(source_id=source_id, stage=stage, message=message)
    return len(running)


# --- retry (people) and resume (the machinery) ------------------------------------------------


def _first_stage(source: Source) -> str:
    return steps.steps_for(source)[0].stage


def resume_stage(source: Source) -> str | None:
    """The stage a stopped source restarts from (None: from the beginning)."""
    if source.processing_status == Status.COMPLETED_WITH_ERRORS:
        # The note stands; only the step that finished with errors reruns.
        failed_step = next(
            step for step in steps.PIPELINE if step.on_failure is steps.OnFailure.FINISH_WITH_ERRORS
        )
        return failed_step.waiting_stage or failed_step.stage
    return source.processing_stage


@transaction.atomic
def source_retry(*, source_id: int) -> Source | None:
    """Rerun a FAILED or COMPLETED_WITH_ERRORS source from where it stopped,
    keeping what is done (failed visuals get another chance). None when it is
    not retryable (claimed atomically: two retries cannot both start it)."""
    source = Source.objects.select_for_update().filter(pk=source_id).first()
    if source is None or source.processing_status not in Source.RETRYABLE_STATUSES:
        return None
    stage = resume_stage(source)
    owner = steps.owner_of(stage) if stage else None
    if owner is not None and owner.fan_out is not None and owner.fan_out.item.item_model is not None:
        services.items_retry_failed(model=owner.fan_out.item.item_model, source_id=source_id)
    source.processing_status = Status.PROCESSING
    source.processing_stage = stage
    source.error_message = ""
    source.resume_attempts = 0
    source.progress_at = timezone.now()
    source.save(
        update_fields=[
            "processing_status",
            "processing_stage",
            "error_message",
            "resume_attempts",
            "progress_at",
            "updated_at",
        ]
    )
    canvas.enqueue(source, from_stage=stage)
    return source


def stuck_sources(*, now=None) -> list[int]:
    """Active sources with no progress for PIPELINE_STUCK_AFTER seconds."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER)
    return list(
        Source.objects.filter(processing_status__in=Source.ACTIVE_STATUSES)
        .filter(Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, created_at__lt=cutoff))
        .order_by("progress_at")
        .values_list("pk", flat=True)[:500]
    )


@transaction.atomic
def resume(*, source_id: int, reason: str, count_attempt: bool = True) -> bool:
    """Start an active source again from the stage it stands in (a stuck
    source, a failed chord, a worker lost mid-step).

    ``count_attempt``: the watchdog and chord errors count; past
    PIPELINE_MAX_ATTEMPTS the source is FAILED with a message saying so. A
    lost worker does not count here (the lost step counts its losses). Items
    that no execution works on go back to PENDING for the new fan-out.
    Returns whether the source was started again.
    """
    source = (
        Source.objects.select_for_update()
        .filter(pk=source_id, processing_status__in=Source.ACTIVE_STATUSES)
        .first()
    )
    if source is None:
        return False
    stage = source.processing_stage
    if count_attempt:
        if source.resume_attempts >= settings.PIPELINE_MAX_ATTEMPTS:
            fail(
                source_id=source_id,
                # Never started: the first stage of its kind.
                stage=stage or _first_stage(source),
                message=(
                    f"The pipeline stopped making progress in stage {stage or 'PENDING'} "
                    f"and was given up after {source.resume_attempts} resume attempt(s) ({reason})."
                ),
            )
            return False
        # Nothing runs on a stuck source: every unfinished item is free.
        for model in steps.item_models():
            services.items_release_unfinished(model=model, source_id=source_id)
        source.resume_attempts += 1
    source.progress_at = timezone.now()
    source.save(update_fields=["resume_attempts", "progress_at", "updated_at"])
    logger.warning(
        "resuming source %s from %s (attempt %s): %s",
        source_id,
        stage or "the start",
        source.resume_attempts,
        reason,
    )
    canvas.enqueue(source, from_stage=stage)
    return True
