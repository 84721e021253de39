"""The flashcards call: key terms on the front, what the note says they are on the back.

Fronts are the note's key terms and named concepts, best first (keyness,
inflections merged; defined terms before the others among the best). A back
is the sentence that defines the term ("X is ...", "X, which ...", "called
X"), else the most central sentence about it, never a question. Each card
quotes that sentence verbatim.
"""

from __future__ import annotations

from ..base import ProviderError
from .study import Material, read_note

NAME = "local"
_MAX_BACK_CHARS = 600
_MAX_FRONT_CHARS = 120


def flashcard_target(words: int) -> int:
    if words >= 100:
        return min(20, max(5, words // 40))
    return max(1, min(5, words // 10))


def _front(form: str) -> str:
    if form[:1].islower() and form[1:2].islower():
        return form[:1].upper() + form[1:]
    return form


def build_flashcards(markdown: str) -> tuple[dict, str]:
    material = read_note(markdown)
    target = flashcard_target(material.words())
    shortlist = material.terms[: max(3 * target, 12)]
    ordered = [term for term in shortlist if term.rank in material.defining]
    ordered += [
        term
        for term in material.terms
        if term.rank not in material.defining and (term.solid() or len(material.terms) < 12)
    ]
    cards: list[dict] = []
    fronts: set[str] = set()
    used: set[int] = set()
    taken_keys: list[set[str]] = []
    for term in ordered:
        if len(cards) >= target:
            break
        front = _front(term.form)[:_MAX_FRONT_CHARS]
        if front.casefold() in fronts or any(
            set(term.key) <= key or key <= set(term.key) for key in taken_keys
        ):
            continue
        index = material.best_sentence(term, used)
        if index is None:
            continue
        back = _back(material, index)
        if back.casefold() == term.form.casefold():
            continue
        cards.append(
            {"front": front, "back": back, "quote": material.document.sentences[index].plain, "_at": index}
        )
        fronts.add(front.casefold())
        used.add(index)
        taken_keys.append(set(term.key))
    if not cards:
        raise ProviderError("text too short for flashcards", transient=False, provider=NAME)
    cards.sort(key=lambda card: card.pop("_at"))  # in the note's order, as a student reads it
    return {"flashcards": cards}, material.language.code


def _back(material: Material, index: int) -> str:
    back = material.with_context(index)
    if len(back) > _MAX_BACK_CHARS:
        back = material.document.sentences[index].plain[:_MAX_BACK_CHARS]
    return back
