"""The offline AI provider: no key, no network, deterministic (SPEC section 4, ``local``)."""

from __future__ import annotations

from ..base import AICall, Completion, ProviderError
from .flashcards import build_flashcards
from .lesson import build_lesson_structure
from .quiz import build_quiz

NAME = "local"


class LocalAIProvider:
    """Writes in the text's own language whatever ``language`` asks for: it
    cannot translate. ``Completion.language`` says which language that is, so
    the pipeline can tell the student when it differs from the one asked for."""

    name = NAME

    def complete(
        self, call: AICall, text: str, *, language: str = "", part: tuple[int, int] | None = None
    ) -> Completion:
        if not isinstance(text, str):
            raise ProviderError("the text must be a string", provider=NAME)
        if call == "lesson_structure":
            data, written_in = build_lesson_structure(text)
        elif call == "quiz":
            data, written_in = build_quiz(text)
        elif call == "flashcards":
            data, written_in = build_flashcards(text)
        else:
            raise ProviderError(f"unknown call {call!r}", provider=NAME)
        return Completion(data=data, language=written_in)
