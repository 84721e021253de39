"""Read queries of the API, scoped to one user.

Isolation lives here and nowhere else: every query the API runs for a user
starts from `_owned_sources` or `_owned_notes`, so another user's row is
simply not there (the API answers 404, never 403).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import AudioSegment, Flashcard, Note, QuizQuestion, Source, TextChunk, Visual


def _owned_sources(user: AbstractBaseUser) -> QuerySet[Source]:
    return Source.objects.filter(owner_id=user.pk)


def _owned_notes(user: AbstractBaseUser) -> QuerySet[Note]:
    return Note.objects.filter(owner_id=user.pk)


def _count(model, *, final: bool = False):
    """How many rows of `model` (or how many in a final state) belong to the
    source of the row: a subquery, so counts of several kinds do not multiply."""
    rows = model.objects.filter(source=OuterRef("pk"))
    if final:
        rows = rows.filter(status__in=model.FINAL_STATUSES)
    counted = rows.order_by().values("source").annotate(count=Count("pk")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_progress(sources: QuerySet[Source]) -> QuerySet[Source]:
    """Sources annotated with their progress: visuals, and chunks (the parts
    of a long text or recording worked on one task each)."""
    return sources.annotate(
        visuals_total=_count(Visual),
        visuals_done=_count(Visual, final=True),
        chunks_total=_count(TextChunk) + _count(AudioSegment),
        chunks_done=_count(TextChunk, final=True) + _count(AudioSegment, final=True),
    )


def source_list(*, user: AbstractBaseUser, processing_status: str | None = None) -> QuerySet[Source]:
    """The user's sources, newest first, with their progress and note id
    annotated (no query per row)."""
    sources = with_progress(_owned_sources(user)).annotate(note_pk=F("note__id"))
    if processing_status:
        sources = sources.filter(processing_status=processing_status)
    return sources.order_by("-created_at", "-id")


def source_detail_list(*, user: AbstractBaseUser) -> QuerySet[Source]:
    """As source_list, with the visuals prefetched (one query for all)."""
    return source_list(user=user).prefetch_related(
        Prefetch("visuals", queryset=Visual.objects.order_by("position", "id"))
    )


def source_get(*, user: AbstractBaseUser, source_id: int) -> Source | None:
    return source_detail_list(user=user).filter(pk=source_id).first()


def note_list(*, user: AbstractBaseUser) -> QuerySet[Note]:
    """The user's notes, newest first, with quiz and flashcards prefetched."""
    return (
        _owned_notes(user)
        .prefetch_related(
            Prefetch("quiz_questions", queryset=QuizQuestion.objects.order_by("position")),
            Prefetch("flashcards", queryset=Flashcard.objects.order_by("position")),
        )
        .order_by("-created_at", "-id")
    )


def note_get(*, user: AbstractBaseUser, note_id: int) -> Note | None:
    return note_list(user=user).filter(pk=note_id).first()
