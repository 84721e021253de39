"""The pipeline's steps as plain functions: each loads by id, does its work,
and records the outcome on the source. Tasks (pipeline/tasks.py) only call
these; tests call them without a worker.

Every step is idempotent. Facts in the database decide what is left to do:
a unique constraint makes a duplicate visual impossible, conditional updates
claim work, the note is created or updated in place, and the study tools are
replaced in one transaction.
"""

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, Exists, F, JSONField, OuterRef, Q, Value, When
from django.utils import timezone

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual

from .extractors.base import ExtractionError
from .placeholders import find_placeholders, placeholder_id
from .providers.base import ProviderError, RateLimited
from .render import note_markdown, sanitized_html

logger = logging.getLogger(__name__)

Stage = Source.Stage
Status = Source.Status


class VisualsNotReady(Exception):
    """ASSEMBLE_NOTE was reached while some visuals are not final (an early or
    duplicate chord join). The caller waits and tries again."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"{pending} visual(s) not final yet")
        self.pending = pending


# --- Source status ------------------------------------------------------------


def _active(source_id: int):
    return Source.objects.filter(pk=source_id, processing_status__in=Source.ACTIVE_STATUSES)


def source_enter_stage(*, source_id: int, stage: str) -> bool:
    """Move an active source into `stage`. False when the source is gone or
    no longer active (deleted, failed meanwhile): the caller then stops."""
    now = timezone.now()
    return bool(
        _active(source_id).update(
            processing_status=Status.PROCESSING,
            processing_stage=stage,
            progress_at=now,
            updated_at=now,
        )
    )


def source_touch(*, source_id: int) -> None:
    """Record progress, so the watchdog leaves a long but living stage alone."""
    _active(source_id).update(progress_at=timezone.now())


def source_fail(*, source_id: int, stage: str, message: str) -> None:
    """FAILED keeps the stage it failed in and a readable message."""
    now = timezone.now()
    _active(source_id).update(
        processing_status=Status.FAILED,
        processing_stage=stage,
        error_message=message[:2000],
        progress_at=now,
        updated_at=now,
    )
    logger.warning("source %s failed in %s: %s", source_id, stage, message)


def source_finish(*, source_id: int, error: str = "") -> None:
    now = timezone.now()
    _active(source_id).update(
        processing_status=Status.COMPLETED_WITH_ERRORS if error else Status.COMPLETED,
        processing_stage=None,
        error_message=error[:2000],
        progress_at=now,
        updated_at=now,
    )


def _usage_updates(*completions, provider: str) -> dict:
    """The fields that add the completions' tokens to a source's usage."""
    return {
        "prompt_tokens": F("prompt_tokens") + sum(c.prompt_tokens for c in completions),
        "completion_tokens": F("completion_tokens") + sum(c.completion_tokens for c in completions),
        "ai_provider": provider,
    }


def _record_usage(*completions, source_id: int, provider: str) -> None:
    """Add the tokens of one or more completions (one query); `provider` is the
    one that answered last."""
    Source.objects.filter(pk=source_id).update(**_usage_updates(*completions, provider=provider))


# --- EXTRACT_SOURCE_TEXT -------------------------------------------------------


def source_extract_text(*, source_id: int) -> bool:
    """Fill `extracted_text`. Returns False when the source is not active."""
    from .extractors.dispatch import extract_text

    if not source_enter_stage(source_id=source_id, stage=Stage.EXTRACTING_TEXT):
        return False
    source = Source.objects.get(pk=source_id)
    extracted = extract_text(source)
    text = extracted.text.strip()
    if not text:
        raise ExtractionError("No text could be extracted from the source.")
    if len(text) > settings.MAX_TEXT_CHARS:
        raise ExtractionError(
            f"The extracted text has {len(text):,} characters, above the limit of "
            f"{settings.MAX_TEXT_CHARS:,} (MAX_TEXT_CHARS)."
        )
    _active(source_id).update(
        extracted_text=text,
        text_map=extracted.text_map(),
        title=Case(When(title="", then=Value(extracted.title[:255])), default=F("title")),
    )
    return True


# --- PROCESS_SOURCE_TEXT -------------------------------------------------------


def source_analyze_text(*, source_id: int) -> bool:
    """Ask the AI for the lesson structure. A structure already stored is
    reused, so a redelivered task does not change the placeholders."""
    from .providers.registry import ai_complete

    if not source_enter_stage(source_id=source_id, stage=Stage.ANALYZING_TEXT):
        return False
    source = Source.objects.get(pk=source_id)
    if source.lesson_structure_json:
        return True
    text = source.extracted_text if source.needs_extraction else source.input_text
    if source.kind == Source.Kind.TEXT:
        from .extractors.text import normalize_text

        text = normalize_text(text)
    if not text.strip():
        raise ExtractionError("The source has no text to analyze.")
    structure, completion, provider = ai_complete("lesson_structure", text)
    # One update: the usage is always recorded; the structure only while the
    # source is active; the AI's title only where the source has none.
    Source.objects.filter(pk=source_id).update(
        **_usage_updates(completion, provider=provider),
        lesson_structure_json=Case(
            When(
                processing_status__in=Source.ACTIVE_STATUSES, then=Value(structure.model_dump(), JSONField())
            ),
            default=F("lesson_structure_json"),
        ),
        title=Case(When(title="", then=Value(structure.title[:255])), default=F("title")),
    )
    return True


# --- PROCESS_VISUAL_PLACEHOLDERS -----------------------------------------------


def _structure_markdown(structure: dict) -> str:
    return "\n\n".join(section["content"] for section in structure["structure"])


def source_create_visuals(*, source_id: int) -> list[int] | None:
    """One Visual per unique placeholder; returns the ids of those not final
    (the chord's header), or None when the source is not active."""
    if not source_enter_stage(source_id=source_id, stage=Stage.PENDING_VISUAL_PROCESSING):
        return None
    source = Source.objects.get(pk=source_id)
    structure = source.lesson_structure_json or {}
    queries = {
        placeholder_id(opportunity["description"]): opportunity.get("searchQuery", "")
        for opportunity in structure.get("visualOpportunities", [])
        if opportunity.get("description")
    }
    placeholders = find_placeholders(_structure_markdown(structure)) if structure else []
    Visual.objects.bulk_create(
        [
            Visual(
                source_id=source_id,
                placeholder_id=placeholder.placeholder_id,
                position=position,
                description=placeholder.description,
                search_query=(queries.get(placeholder.placeholder_id) or placeholder.description)[:500],
            )
            for position, placeholder in enumerate(placeholders)
        ],
        ignore_conflicts=True,
    )
    pending = list(
        Visual.objects.filter(source_id=source_id)
        .exclude(status__in=Visual.FINAL_STATUSES)
        .values_list("pk", flat=True)
    )
    if pending:
        source_enter_stage(source_id=source_id, stage=Stage.GENERATING_VISUALS)
    return pending


# --- GENERATE_VISUAL -----------------------------------------------------------


def visual_generate(*, visual_id: int) -> str | None:
    """Find an image for one visual and record COMPLETED or FAILED.

    A provider failure is an outcome, not an exception: the chord must go on.
    Returns the final status, or None when there was nothing to do (already
    final, or the visual was deleted with its source).
    """
    from .providers.registry import find_image

    claimed = Visual.objects.filter(pk=visual_id).exclude(status__in=Visual.FINAL_STATUSES)
    if not claimed.update(status=Visual.Status.PROCESSING, updated_at=timezone.now()):
        return None
    visual = Visual.objects.only("pk", "source_id", "description", "search_query").get(pk=visual_id)
    started = time.monotonic()
    try:
        url, provider = find_image(description=visual.description, query=visual.search_query)
    except RateLimited:
        # Not a failure: hand the visual back and let the task come back later.
        Visual.objects.filter(pk=visual_id, status=Visual.Status.PROCESSING).update(
            status=Visual.Status.PENDING
        )
        raise
    except ProviderError as exc:
        status, fields = Visual.Status.FAILED, {"error_message": str(exc)[:2000], "image_url": ""}
    else:
        status, fields = (
            Visual.Status.COMPLETED,
            {"image_url": url, "provider": provider, "error_message": ""},
        )
    # Only a visual that is not final yet takes the outcome: a duplicate
    # delivery that finishes second changes nothing.
    Visual.objects.filter(pk=visual_id).exclude(status__in=Visual.FINAL_STATUSES).update(
        status=status, updated_at=timezone.now(), **fields
    )
    source_touch(source_id=visual.source_id)
    logger.info("visual %s %s in %.0f ms", visual_id, status, (time.monotonic() - started) * 1000)
    return status


def visual_fail(*, visual_id: int, message: str) -> None:
    Visual.objects.filter(pk=visual_id).exclude(status__in=Visual.FINAL_STATUSES).update(
        status=Visual.Status.FAILED, error_message=message[:2000], updated_at=timezone.now()
    )


# --- ASSEMBLE_NOTE -------------------------------------------------------------


def note_assemble(*, source_id: int) -> int | None:
    """Build the note from the structure and the final visuals.

    Refuses (VisualsNotReady) while any visual is not final: an early or
    duplicate chord join must not assemble a note with holes. Returns the
    note id, or None when the source is not active.
    """
    if not source_enter_stage(source_id=source_id, stage=Stage.ASSEMBLING_NOTE):
        return None
    with transaction.atomic():
        # One assembly at a time per source: a duplicate join waits here,
        # then updates the same note.
        source = Source.objects.select_for_update().get(pk=source_id)
        visuals = list(source.visuals.all())
        pending = sum(1 for visual in visuals if not visual.is_final)
        if pending:
            raise VisualsNotReady(pending)
        structure = source.lesson_structure_json
        title = structure["title"]
        markdown = note_markdown(title=title, sections=structure["structure"], visuals=visuals)
        fields = {
            "owner_id": source.owner_id,
            "title": title[:255],
            "markdown_content": markdown,
            "html_content": sanitized_html(markdown),
        }
        # The source's row lock serializes assemblies of one source, so a plain
        # read then insert or update is safe (update_or_create would add two
        # savepoints and a second locking read).
        note = Note.objects.filter(source=source).first()
        if note is None:
            note = Note.objects.create(source=source, **fields)
        else:
            for name, value in fields.items():
                setattr(note, name, value)
            note.save(update_fields=[*fields, "updated_at"])
    source_enter_stage(source_id=source_id, stage=Stage.PENDING_STUDY_TOOLS)
    return note.pk


# --- GENERATE_STUDY_TOOLS ------------------------------------------------------


@dataclass(frozen=True)
class StudyTools:
    questions: list
    flashcards: list


def _in_thread(function, *args) -> Future:
    """Run `function(*args)` in a helper thread; its result or error in the Future.

    The helper closes whatever database connection it may have opened (Django's
    connections are per thread), so it never leaves one behind. Nobody waits for
    it on an error of the caller: it ends on its own, its answer dropped.
    """
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(*args))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            connections.close_all()

    threading.Thread(target=run, name="study-tools", daemon=True).start()
    return future


def _overlap_ai_calls() -> bool:
    """Two AI calls at once pay off when they wait on a network provider; the
    offline `local` provider computes in Python, where a second thread gains
    nothing (one interpreter lock) and the calls stay in turn."""
    providers = list(settings.AI_PROVIDERS)
    return bool(providers) and providers[0] != "local"


def _generate_study_tools(*, source_id: int, markdown: str) -> StudyTools:
    """The quiz and the flashcards: two independent AI calls. With a network
    provider they are made at the same time (the flashcards in a helper
    thread), so the step takes as long as the slower call rather than both in
    turn. The outcome is as if made in turn: the quiz's error first, then the
    flashcards'; the usage of the calls that answered is recorded, in one
    update (no database work happens in the helper thread)."""
    from .providers.registry import ai_complete

    if _overlap_ai_calls():
        flashcards = _in_thread(ai_complete, "flashcards", markdown).result
    else:
        flashcards = partial(ai_complete, "flashcards", markdown)
    quiz, quiz_completion, quiz_provider = ai_complete("quiz", markdown)
    try:
        cards, cards_completion, cards_provider = flashcards()
    except BaseException:
        _record_usage(quiz_completion, source_id=source_id, provider=quiz_provider)
        raise
    _record_usage(quiz_completion, cards_completion, source_id=source_id, provider=cards_provider)
    return StudyTools(questions=quiz.questions, flashcards=cards.flashcards)


def study_tools_generate(*, source_id: int) -> bool:
    """Quiz and flashcards from the note. A failure here leaves the note
    usable: the source ends COMPLETED_WITH_ERRORS."""
    if not source_enter_stage(source_id=source_id, stage=Stage.GENERATING_STUDY_TOOLS):
        return False
    # The note and whether it has its tools, in one query.
    note = (
        Note.objects.filter(source_id=source_id)
        .annotate(
            has_questions=Exists(QuizQuestion.objects.filter(note=OuterRef("pk"))),
            has_flashcards=Exists(Flashcard.objects.filter(note=OuterRef("pk"))),
        )
        .first()
    )
    if note is None:
        raise ProviderError("the note is missing; it must be assembled first")
    if note.has_questions and note.has_flashcards:
        source_finish(source_id=source_id)
        return True
    try:
        tools = _generate_study_tools(source_id=source_id, markdown=note.markdown_content)
    except ProviderError as exc:
        source_finish(source_id=source_id, error=f"Quiz and flashcards could not be generated: {exc}")
        return True
    with transaction.atomic():
        # Replace, never append: a second run leaves one set. Two runs at once
        # (a redelivery, a resume) take turns on the note's row lock; without
        # it the second one's inserts collide with the first's (IntegrityError).
        Note.objects.select_for_update().only("pk").get(pk=note.pk)
        note.quiz_questions.all().delete()
        note.flashcards.all().delete()
        QuizQuestion.objects.bulk_create(
            QuizQuestion(
                note=note,
                position=position,
                question=question.question,
                options=question.options,
                answer_index=question.answerIndex,
                explanation=question.explanation,
            )
            for position, question in enumerate(tools.questions)
        )
        Flashcard.objects.bulk_create(
            Flashcard(note=note, position=position, front=card.front, back=card.back)
            for position, card in enumerate(tools.flashcards)
        )
    source_finish(source_id=source_id)
    return True


# --- Resuming: retry, chord errors, the watchdog -------------------------------


def resume_stage(source: Source) -> str | None:
    """The stage a stopped or stuck source resumes from (None: from the start)."""
    if source.processing_status == Status.COMPLETED_WITH_ERRORS:
        return Stage.PENDING_STUDY_TOOLS
    return source.processing_stage


def source_prepare_resume(*, source_id: int) -> Source | None:
    """Make a FAILED or COMPLETED_WITH_ERRORS source runnable again from where
    it stopped, keeping what is done. None when it is running already
    (claimed atomically: two retries cannot both start it)."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None or source.processing_status not in Source.RETRYABLE_STATUSES:
            return None
        stage = resume_stage(source)
        if stage in (Stage.PENDING_VISUAL_PROCESSING, Stage.GENERATING_VISUALS):
            # Failed visuals get another chance on a retry.
            source.visuals.filter(status=Visual.Status.FAILED).update(
                status=Visual.Status.PENDING, error_message=""
            )
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


def source_claim_resume(*, source_id: int, reason: str) -> Source | None:
    """Claim a stuck (or chord-failed) source for one resumption.

    Counts the attempt; past PIPELINE_MAX_ATTEMPTS the source is FAILED with a
    message saying so. Visuals whose task was lost go back to PENDING. Returns
    the source to resume from its stage, or None when there is nothing to do.
    """
    with transaction.atomic():
        source = (
            Source.objects.select_for_update()
            .filter(pk=source_id, processing_status__in=Source.ACTIVE_STATUSES)
            .first()
        )
        if source is None:
            return None
        stage = source.processing_stage
        if source.resume_attempts >= settings.PIPELINE_MAX_ATTEMPTS:
            source_fail(
                source_id=source_id,
                # Never started: the first stage of its kind (TEXT has no extraction).
                stage=stage or (Stage.EXTRACTING_TEXT if source.needs_extraction else Stage.ANALYZING_TEXT),
                message=(
                    f"The pipeline stopped making progress in stage {stage or 'PENDING'} "
                    f"and was given up after {source.resume_attempts} resume attempt(s) ({reason})."
                ),
            )
            return None
        if stage in (Stage.PENDING_VISUAL_PROCESSING, Stage.GENERATING_VISUALS, Stage.ASSEMBLING_NOTE):
            source.visuals.exclude(status__in=Visual.FINAL_STATUSES).update(status=Visual.Status.PENDING)
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
        return source
