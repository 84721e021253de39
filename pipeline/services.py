"""The work of each pipeline step, as plain functions: each loads by id, does
its work and stores the result. The step table (pipeline/steps.py) says which
function a step runs; the task class (pipeline/tasks.py) runs it and the
lifecycle (pipeline/lifecycle.py) moves the source through its stages. Tests
call these functions without a worker.

Every step is idempotent. Facts in the database decide what is left to do:
unique constraints make a duplicate visual or chunk impossible, conditional
updates claim work, finished answers are stored and reused, the note is
created or updated in place, and the study tools are replaced in one
transaction.

A function that fans out returns the ids of the items to work on (the
canvas runs them as a chord); ``None`` means the step did its work itself.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.utils import timezone

from notes.models import AudioSegment, Flashcard, Note, QuizQuestion, Source, TextChunk, Visual

from . import chunking
from .errors import ExtractionError, PipelineError, ProviderError
from .extractors import audio
from .extractors.base import Chapter, Extracted
from .extractors.dispatch import extract_text
from .extractors.youtube import with_chapters
from .placeholders import find_placeholders, neutralize_markers, placeholder_id
from .providers import registry
from .providers.base import Completion
from .render import note_markdown, sanitized_html

logger = logging.getLogger(__name__)


class NotReady(Exception):
    """A join step was reached while some items are not final (an early or
    duplicate chord join). The task waits and tries again."""

    def __init__(self, pending: int, what: str) -> None:
        super().__init__(f"{pending} {what} not final yet")
        self.pending = pending


def _record_usage(*completions: Completion, source_id: int, provider: str) -> None:
    """Add the tokens of one or more completions (one query); ``provider`` is
    the one that answered last."""
    Source.objects.filter(pk=source_id).update(
        prompt_tokens=F("prompt_tokens") + sum(c.prompt_tokens for c in completions),
        completion_tokens=F("completion_tokens") + sum(c.completion_tokens for c in completions),
        ai_provider=provider,
    )


# --- EXTRACT_SOURCE_TEXT -------------------------------------------------------


def _store_extracted(*, source_id: int, extracted: Extracted) -> None:
    text = extracted.text
    if not text.strip():
        raise ExtractionError("No text could be extracted from the source.")
    if len(text) > settings.MAX_TEXT_CHARS:
        raise ExtractionError(
            f"The extracted text has {len(text):,} characters, above the limit of "
            f"{settings.MAX_TEXT_CHARS:,} (MAX_TEXT_CHARS)."
        )
    Source.objects.filter(pk=source_id).update(
        extracted_text=text,
        text_map=extracted.text_map(),
        title=Case(When(title="", then=Value(extracted.title[:255])), default=F("title")),
    )


def _keep_audio_part(source_id: int, index: int, path: Path) -> str:
    with path.open("rb") as handle:
        return default_storage.save(f"audio-parts/{source_id}/{index:04d}{path.suffix}", File(handle))


def source_extract_text(*, source_id: int) -> list[int] | None:
    """Fill ``extracted_text`` and its map back to the source; take the
    document's own title when the source has none. A recording too long for
    one request is cut into parts kept in storage: returns their ids (one
    transcription task each; the join assembles the text)."""
    source = Source.objects.get(pk=source_id)
    if source.extracted_text:
        return None  # extracted already (a redelivery, a resume)
    if AudioSegment.objects.filter(source_id=source_id).exists():
        return list(
            AudioSegment.objects.filter(source_id=source_id, status=AudioSegment.Status.PENDING).values_list(
                "pk", flat=True
            )
        )
    result = extract_text(source, keep_part=partial(_keep_audio_part, source_id))
    if isinstance(result, Extracted):
        _store_extracted(source_id=source_id, extracted=result)
        return None
    AudioSegment.objects.bulk_create(
        AudioSegment(source_id=source_id, index=index, start_seconds=start, part=name)
        for index, (start, name) in enumerate(result.parts)
    )
    Source.objects.filter(pk=source_id).update(
        text_map={"chapters": [[chapter.start_seconds, chapter.title] for chapter in result.chapters]},
        title=Case(When(title="", then=Value(result.title[:255])), default=F("title")),
    )
    return list(AudioSegment.objects.filter(source_id=source_id).values_list("pk", flat=True))


def segment_transcribe(*, source_id: int, item_id: int) -> None:
    """The transcript of one part of a long recording, kept on the part."""
    claimed = AudioSegment.objects.filter(pk=item_id, status=AudioSegment.Status.PENDING)
    if not claimed.update(status=AudioSegment.Status.PROCESSING, updated_at=timezone.now()):
        return
    segment = AudioSegment.objects.get(pk=item_id)
    try:
        with tempfile.TemporaryDirectory(prefix="studynaut-part-") as directory:
            path = Path(directory) / Path(segment.part).name
            with default_storage.open(segment.part, "rb") as stored, path.open("wb") as local:
                shutil.copyfileobj(stored, local, length=1024 * 1024)
            extracted = audio.transcribe_part(path, start_seconds=segment.start_seconds)
    except BaseException:
        # Not a final outcome (a retry, our rate limit, a time limit): hand
        # the part back for the next attempt.
        AudioSegment.objects.filter(pk=item_id, status=AudioSegment.Status.PROCESSING).update(
            status=AudioSegment.Status.PENDING
        )
        raise
    AudioSegment.objects.filter(pk=item_id).exclude(status__in=AudioSegment.FINAL_STATUSES).update(
        status=AudioSegment.Status.COMPLETED,
        transcript={"text": extracted.text, "anchors": [anchor.as_list() for anchor in extracted.anchors]},
        error_message="",
        updated_at=timezone.now(),
    )


def source_join_transcript(*, source_id: int) -> None:
    """The transcripts of every part, joined in order (the words heard twice
    in an overlap kept once), with a video's chapters as headings. A part that
    failed for good fails the source, saying which."""
    if Source.objects.filter(pk=source_id).exclude(extracted_text="").exists():
        return  # joined already (a duplicate join)
    segments = list(AudioSegment.objects.filter(source_id=source_id).order_by("index"))
    pending = sum(1 for segment in segments if segment.status not in AudioSegment.FINAL_STATUSES)
    if pending:
        raise NotReady(pending, "part(s) of the recording")
    for segment in segments:
        if segment.status == AudioSegment.Status.FAILED:
            raise ExtractionError(
                f"Part {segment.index + 1} of {len(segments)} of the recording could not be transcribed: "
                f"{segment.error_message}"
            )
    texts = [Extracted.from_stored(segment.transcript["text"], segment.transcript) for segment in segments]
    joined = audio.spoken_text(texts)
    chapters = (Source.objects.values_list("text_map", flat=True).get(pk=source_id) or {}).get("chapters", [])
    if chapters:
        joined = with_chapters(joined, [Chapter(float(start), str(title)) for start, title in chapters])
    _store_extracted(source_id=source_id, extracted=joined)
    names = [segment.part for segment in segments if segment.part]
    AudioSegment.objects.filter(source_id=source_id).update(part="")

    def delete_parts() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete_parts, robust=True)


# --- PROCESS_SOURCE_TEXT -------------------------------------------------------


def source_text_for_ai(source: Source) -> str:
    """The text the lesson structure is written from: the source's text
    without the ranges the note leaves out, with the user's own
    ``[VISUAL::`` markers made inert (only the AI's placeholders count)."""
    if source.kind == Source.Kind.TEXT:
        from .extractors.text import normalize_text

        text = normalize_text(source.input_text)
    else:
        text = Extracted.from_stored(source.extracted_text, source.text_map).note_text()
    return neutralize_markers(text)


def _store_structure(
    *, source_id: int, structure: dict, completions: list[Completion], provider: str
) -> None:
    """The structure, its title (where the source has none), the language it
    is written in (where the source has none) and the usage, in one query."""
    language = next((c.language for c in completions if c.language), "")
    Source.objects.filter(pk=source_id).update(
        lesson_structure_json=structure,
        title=Case(When(title="", then=Value(str(structure.get("title", ""))[:255])), default=F("title")),
        language=Case(When(language="", then=Value(language)), default=F("language")),
        prompt_tokens=F("prompt_tokens") + sum(c.prompt_tokens for c in completions),
        completion_tokens=F("completion_tokens") + sum(c.completion_tokens for c in completions),
        ai_provider=provider,
    )


def source_analyze_text(*, source_id: int) -> list[int] | None:
    """The lesson structure. A short text is one AI call; a text longer than
    the primary provider takes at once is cut into chunks, analyzed one task
    each (returns their ids; the join merges them). A structure already
    stored is reused, so a redelivered task changes nothing."""
    source = Source.objects.get(pk=source_id)
    if source.lesson_structure_json:
        return None
    text = source_text_for_ai(source)
    if not text.strip():
        raise ExtractionError("The source has no text to analyze.")
    size = registry.primary_max_input_chars()
    if size is not None and len(text) > size:
        chunks = chunking.split_chunks(text, size)
        TextChunk.objects.bulk_create(
            [TextChunk(source_id=source_id, index=index, text=chunk) for index, chunk in enumerate(chunks)],
            ignore_conflicts=True,
        )
        return list(
            TextChunk.objects.filter(source_id=source_id, status=TextChunk.Status.PENDING).values_list(
                "pk", flat=True
            )
        )
    structure, completion, provider = registry.ai_complete("lesson_structure", text, language=source.language)
    _store_structure(
        source_id=source_id, structure=structure.model_dump(), completions=[completion], provider=provider
    )
    return None


def chunk_analyze(*, source_id: int, item_id: int) -> None:
    """The lesson structure of one chunk, stored on the chunk (a retry, a
    resume or a redelivery pays only for chunks not answered yet)."""
    claimed = TextChunk.objects.filter(pk=item_id, status=TextChunk.Status.PENDING)
    if not claimed.update(status=TextChunk.Status.PROCESSING, updated_at=timezone.now()):
        return  # answered already, being answered elsewhere, or deleted
    chunk = TextChunk.objects.select_related("source").get(pk=item_id)
    parts = TextChunk.objects.filter(source_id=source_id).count()
    try:
        structure, completion, provider = registry.ai_complete(
            "lesson_structure",
            chunk.text,
            language=chunk.source.language,
            part=(chunk.index + 1, parts),
        )
    except BaseException:
        # Not a final outcome (a retry, our rate limit, a time limit): hand
        # the chunk back for the next attempt.
        TextChunk.objects.filter(pk=item_id, status=TextChunk.Status.PROCESSING).update(
            status=TextChunk.Status.PENDING
        )
        raise
    TextChunk.objects.filter(pk=item_id).exclude(status__in=TextChunk.FINAL_STATUSES).update(
        status=TextChunk.Status.COMPLETED,
        answer=structure.model_dump(),
        language=completion.language,
        provider=provider,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        error_message="",
        updated_at=timezone.now(),
    )


def source_merge_chunks(*, source_id: int) -> None:
    """One lesson structure from the answers of every chunk, in order. A chunk
    that failed for good fails the source, saying which part."""
    chunks = list(TextChunk.objects.filter(source_id=source_id).order_by("index"))
    if Source.objects.filter(pk=source_id).values_list("lesson_structure_json", flat=True).first():
        return  # merged already (a duplicate join)
    pending = sum(1 for chunk in chunks if chunk.status not in TextChunk.FINAL_STATUSES)
    if pending:
        raise NotReady(pending, "part(s) of the text")
    for chunk in chunks:
        if chunk.status == TextChunk.Status.FAILED:
            raise PipelineError(
                f"Part {chunk.index + 1} of {len(chunks)} of the text could not be analyzed: "
                f"{chunk.error_message}"
            )
    structure = chunking.merge_structures([chunk.answer for chunk in chunks])
    completions = [
        Completion(
            data={},
            prompt_tokens=chunk.prompt_tokens,
            completion_tokens=chunk.completion_tokens,
            language=chunk.language,
        )
        for chunk in chunks
    ]
    _store_structure(
        source_id=source_id, structure=structure, completions=completions, provider=chunks[-1].provider
    )


# --- PROCESS_VISUAL_PLACEHOLDERS -----------------------------------------------


def _sections_with_placeholders(structure: dict) -> list[tuple[str, list]]:
    return [
        (section["content"], find_placeholders(section["content"]))
        for section in structure.get("structure", [])
    ]


def source_create_visuals(*, source_id: int) -> list[int]:
    """One Visual per unique placeholder, the first MAX_VISUALS_PER_SOURCE in
    order (the note leaves the others out). Returns the ids of the visuals
    nobody is working on yet: the chord's header."""
    source = Source.objects.only("lesson_structure_json").get(pk=source_id)
    structure = source.lesson_structure_json or {}
    queries = {
        placeholder_id(opportunity["description"]): opportunity.get("searchQuery", "")
        for opportunity in structure.get("visualOpportunities", [])
        if opportunity.get("description")
    }
    visuals: dict[str, Visual] = {}
    for context, placeholders in _sections_with_placeholders(structure):
        for placeholder in placeholders:
            if placeholder.placeholder_id in visuals or len(visuals) >= settings.MAX_VISUALS_PER_SOURCE:
                continue
            visuals[placeholder.placeholder_id] = Visual(
                source_id=source_id,
                placeholder_id=placeholder.placeholder_id,
                position=len(visuals),
                description=placeholder.description,
                search_query=(queries.get(placeholder.placeholder_id) or placeholder.description)[:500],
                context=context[:4000],
            )
    Visual.objects.bulk_create(visuals.values(), ignore_conflicts=True)
    return list(
        Visual.objects.filter(source_id=source_id, status=Visual.Status.PENDING).values_list("pk", flat=True)
    )


# --- GENERATE_VISUAL -----------------------------------------------------------


def visual_generate(*, source_id: int, item_id: int) -> None:
    """Find an image for one visual and record COMPLETED or FAILED.

    A provider failure is an outcome, not an exception: the chord must go on.
    A visual that is final already, or that another execution is working on,
    is left alone.
    """
    claimed = Visual.objects.filter(pk=item_id, status=Visual.Status.PENDING)
    if not claimed.update(status=Visual.Status.PROCESSING, updated_at=timezone.now()):
        return
    visual = Visual.objects.only("pk", "description", "search_query", "context").get(pk=item_id)
    started = time.monotonic()
    try:
        url, provider = registry.find_image(
            description=visual.description, query=visual.search_query, context=visual.context
        )
    except ProviderError as exc:
        status, fields = Visual.Status.FAILED, {"error_message": str(exc)[:2000], "image_url": ""}
    except BaseException:
        # Not an outcome (our rate limit, a time limit, a shutdown): hand the
        # visual back for the next attempt.
        Visual.objects.filter(pk=item_id, status=Visual.Status.PROCESSING).update(
            status=Visual.Status.PENDING
        )
        raise
    else:
        status, fields = (
            Visual.Status.COMPLETED,
            {"image_url": url, "provider": provider, "error_message": ""},
        )
    # Only a visual that is not final yet takes the outcome: a duplicate
    # delivery that finishes second changes nothing.
    Visual.objects.filter(pk=item_id).exclude(status__in=Visual.FINAL_STATUSES).update(
        status=status, updated_at=timezone.now(), **fields
    )
    logger.info("visual %s %s in %.0f ms", item_id, status, (time.monotonic() - started) * 1000)


# --- ASSEMBLE_NOTE -------------------------------------------------------------


def note_assemble(*, source_id: int) -> int:
    """Build the note from the structure and the final visuals.

    Refuses (NotReady) while any visual is not final: an early or duplicate
    chord join must not assemble a note with holes. Returns the note id.
    """
    with transaction.atomic():
        # One assembly at a time per source: a duplicate join waits here,
        # then updates the same note.
        source = Source.objects.select_for_update().get(pk=source_id)
        visuals = list(source.visuals.all())
        pending = sum(1 for visual in visuals if not visual.is_final)
        if pending:
            raise NotReady(pending, "visual(s)")
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
    return note.pk


# --- GENERATE_STUDY_TOOLS ------------------------------------------------------


def _in_thread(function, *args, **kwargs) -> Future:
    """Run ``function(*args, **kwargs)`` in a helper thread; its result or
    error (our rate limit and time limits included) in the Future.

    The helper closes whatever database connection it may have opened
    (Django's connections are per thread), so it never leaves one behind.
    """
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as exc:  # broad-except-ok: handed to the caller, who re-raises it
            future.set_exception(exc)
        finally:
            connections.close_all()

    threading.Thread(target=run, name="study-tools", daemon=True).start()
    return future


def _save_questions(note: Note, questions: list) -> None:
    with transaction.atomic():
        # Replace, never append: a second run leaves one set. Two runs at once
        # (a redelivery, a resume) take turns on the note's row lock.
        Note.objects.select_for_update().only("pk").get(pk=note.pk)
        note.quiz_questions.all().delete()
        QuizQuestion.objects.bulk_create(
            QuizQuestion(
                note=note,
                position=position,
                question=question.question,
                options=question.options,
                answer_index=question.answerIndex,
                explanation=question.explanation,
            )
            for position, question in enumerate(questions)
        )


def _save_flashcards(note: Note, cards: list) -> None:
    with transaction.atomic():
        Note.objects.select_for_update().only("pk").get(pk=note.pk)
        note.flashcards.all().delete()
        Flashcard.objects.bulk_create(
            Flashcard(note=note, position=position, front=card.front, back=card.back)
            for position, card in enumerate(cards)
        )


_SAVERS = {"quiz": ("questions", _save_questions), "flashcards": ("flashcards", _save_flashcards)}


def study_tools_generate(*, source_id: int) -> None:
    """The quiz and the flashcards: two AI calls, each saved as soon as it
    answers, so a step that comes back (our rate limit, a retry) makes only
    the call that is missing. With a network provider both calls run at the
    same time (the flashcards in a helper thread)."""
    note = (
        Note.objects.filter(source_id=source_id)
        .annotate(
            has_quiz=Exists(QuizQuestion.objects.filter(note=OuterRef("pk"))),
            has_flashcards=Exists(Flashcard.objects.filter(note=OuterRef("pk"))),
        )
        .select_related("source")
        .first()
    )
    if note is None:
        raise PipelineError("The note is missing; it must be assembled first.")
    missing = [
        call for call, done in (("quiz", note.has_quiz), ("flashcards", note.has_flashcards)) if not done
    ]
    if not missing:
        return
    language = note.source.language

    def make(call: str) -> tuple[Any, Completion, str]:
        return registry.ai_complete(call, note.markdown_content, language=language)

    pending: dict[str, Future] = {}
    if len(missing) == 2 and registry.overlap_ai_calls():
        pending["flashcards"] = _in_thread(make, "flashcards")
        missing = ["quiz"]
    errors: list[BaseException] = []
    for call in [*missing, *pending]:
        try:
            model, completion, provider = pending[call].result() if call in pending else make(call)
        except ProviderError as exc:
            errors.append(exc)
            continue
        field, save = _SAVERS[call]
        save(note, getattr(model, field))
        _record_usage(completion, source_id=source_id, provider=provider)
    if errors:
        raise errors[0]


# --- Items of a fan-out (visuals, text chunks) ------------------------------------------
#
# Each kind of item is a model with the same four statuses (PENDING,
# PROCESSING, COMPLETED, FAILED), FINAL_STATUSES and an error_message; the
# step table says which model a fan-out works on.

ItemModel = type[Visual] | type[TextChunk] | type[AudioSegment]


def item_fail(*, model: ItemModel, item_id: int, message: str) -> None:
    """The item failed for good: it records why, and the chord goes on."""
    model.objects.filter(pk=item_id).exclude(status__in=model.FINAL_STATUSES).update(
        status=model.Status.FAILED, error_message=message[:2000], updated_at=timezone.now()
    )


def item_release(*, model: ItemModel, item_id: int) -> None:
    """An item whose execution was lost (its worker died) is free again."""
    model.objects.filter(pk=item_id, status=model.Status.PROCESSING).update(status=model.Status.PENDING)


def items_release_unfinished(*, model: ItemModel, source_id: int) -> None:
    """Every unfinished item of a stuck source (nothing works on it) is free again."""
    model.objects.filter(source_id=source_id).exclude(status__in=model.FINAL_STATUSES).update(
        status=model.Status.PENDING
    )


def items_retry_failed(*, model: ItemModel, source_id: int) -> None:
    """Failed items get another chance when a person retries the source."""
    model.objects.filter(source_id=source_id, status=model.Status.FAILED).update(
        status=model.Status.PENDING, error_message=""
    )
