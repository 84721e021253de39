"""Read queries of the API, scoped to one user.

Isolation lives here and nowhere else: every query the API runs for a user
starts from `_owned_sources` or `_owned_notes`, so another user's row is
simply not there (the API answers 404, never 403).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Prefetch, Q, QuerySet

from .models import Flashcard, Note, QuizQuestion, Source, Visual


def _owned_sources(user: AbstractBaseUser) -> QuerySet[Source]:
    return Source.objects.filter(owner_id=user.pk)


def _owned_notes(user: AbstractBaseUser) -> QuerySet[Note]:
    return Note.objects.filter(owner_id=user.pk)


def source_list(*, user: AbstractBaseUser, processing_status: str | None = None) -> QuerySet[Source]:
    """The user's sources, newest first, with their progress and note id
    annotated (no query per row)."""
    sources = _owned_sources(user).annotate(
        visuals_total=Count("visuals", distinct=True),
        visuals_done=Count("visuals", filter=Q(visuals__status__in=Visual.FINAL_STATUSES), distinct=True),
        note_pk=F("note__id"),
    )
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
