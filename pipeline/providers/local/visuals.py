"""The note's own ``[VISUAL::description]`` placeholders: one to three.

Each pictures a key term that the note defines (else one of its best terms),
in a different section where possible. Its description names the term and
the key terms around it, in the text's own words (so in its language): the
offline image provider draws a concept map of them from the section's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .definitions import defines
from .document import Document
from .terms import Term

MAX_DESCRIPTION_CHARS = 160
_MAX_QUERY_CHARS = 120


@dataclass(frozen=True)
class Visual:
    part: int  # index of the section
    block: int  # the placeholder goes after this block
    description: str
    query: str


def wanted_visuals(words: int) -> int:
    if words < 8:
        return 0
    return 1 if words < 200 else 2 if words < 600 else 3


def _clean(text: str, limit: int) -> str:
    text = " ".join(text.replace("[", "(").replace("]", ")").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-")


def choose_visuals(
    document: Document,
    part_sentences: list[list[int]],
    terms: list[Term],
    kept: set[int],
    words: int,
) -> list[Visual]:
    """Where the placeholders go and what they show, in reading order."""
    wanted = wanted_visuals(words)
    if not wanted or not terms:
        return []
    language = document.language
    part_of = {index: number for number, indexes in enumerate(part_sentences) for index in indexes}
    candidates: list[tuple[Term, int]] = []  # a term and the kept sentence that shows it
    for term in terms[:15]:
        holding = [index for index in term.sentences if index in kept and index in part_of]
        if not holding:
            continue
        defining = [index for index in holding if defines(document.sentences[index].plain, term, language)]
        candidates.append((term, (defining or holding)[0]))
    # Defined terms first, each group in the order of keyness.
    candidates.sort(
        key=lambda item: (not defines(document.sentences[item[1]].plain, item[0], language), item[0].rank)
    )
    chosen: list[tuple[Term, int]] = []
    for prefer_new_part in (True, False):
        for term, index in candidates:
            if len(chosen) >= wanted:
                break
            if any(term is other for other, _ in chosen) or any(
                set(term.key) & set(other.key) for other, _ in chosen
            ):
                continue
            if prefer_new_part and any(part_of[index] == part_of[other] for _, other in chosen):
                continue
            chosen.append((term, index))
    visuals = []
    seen: set[str] = set()
    for term, index in chosen:
        related = _related_terms(term, part_sentences[part_of[index]], terms, kept)
        head = term.form[:1].upper() + term.form[1:]
        description = _clean(f"{head}: {', '.join(related)}" if related else head, MAX_DESCRIPTION_CHARS)
        if description.casefold() in seen:
            continue
        seen.add(description.casefold())
        query = _clean(" ".join([term.form, *related[:2]]), _MAX_QUERY_CHARS)
        visuals.append(Visual(part_of[index], document.sentences[index].block, description, query))
    return sorted(visuals, key=lambda visual: (visual.part, visual.block))


def _related_terms(term: Term, section: list[int], terms: list[Term], kept: set[int]) -> list[str]:
    """Up to three other key terms of the section, those sharing sentences with
    the term first."""
    inside = set(section)
    near = set(term.sentences)
    scored: list[tuple[float, int, str]] = []
    for other in terms[:60]:
        if other is term or set(other.key) & set(term.key):
            continue
        here = [index for index in other.sentences if index in inside]
        if not here:
            continue
        together = sum(1 for index in here if index in near)
        scored.append((-(together * 2 + len(here) / 4), other.rank, other.form))
    scored.sort()
    related: list[str] = []
    for _, _, form in scored:
        if any(
            form.casefold() in existing.casefold() or existing.casefold() in form.casefold()
            for existing in related
        ):
            continue
        related.append(form)
        if len(related) >= 3:
            break
    return related
