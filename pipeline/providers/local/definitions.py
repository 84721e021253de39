"""Sentences that define a term, per language.

Three shapes: the term opens the sentence and a copula follows ("Evaporation
is the change ...", "Die Erdkruste ist ...", "Un anticuerpo es ..."); an
appositive follows it ("a pigment, a molecule that ..."); or a naming phrase
precedes it ("tiny pores called stomata", "qu'on appelle ..."). Patterns are
built from the term's own spellings (literals), so they are linear.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .resources import Language, definition_pattern_words
from .terms import Term

_MAX_DEFINIENS_WORDS = 45


@lru_cache(maxsize=4096)
def _patterns(forms: tuple[str, ...], code: str, words_key: tuple) -> tuple[re.Pattern[str] | None, ...]:
    copulas, naming, appositive, articles = words_key
    alternatives = "|".join(
        r"[^\S\n]+".join(re.escape(word) for word in form.split())
        for form in sorted(forms, key=lambda form: (-len(form), form))
    )
    term = rf"(?:{alternatives})(?![\w-])"
    article = rf"(?:(?:{definition_pattern_words(articles)})\s+)?" if articles else ""
    # "l'eau": the French and Italian article may be glued to the word.
    if code in ("fr", "it"):
        article = rf"(?:{article}|l['\u2019])?" if article else article
    found: list[re.Pattern[str] | None] = []
    found.append(
        re.compile(
            rf"{article}{term}(?:\s*\([^()\n]{{0,80}}\))?(?:\s*,[^,\n]{{1,80}},)?\s+(?:{definition_pattern_words(copulas)})(?![\w-])",
            re.IGNORECASE,
        )
        if copulas
        else None
    )
    found.append(
        re.compile(rf"(?<![\w-]){term},\s+(?:{definition_pattern_words(appositive)})(?![\w-])", re.IGNORECASE)
        if appositive
        else None
    )
    found.append(
        re.compile(rf"(?<![\w-])(?:{definition_pattern_words(naming)})\s+{article}{term}", re.IGNORECASE)
        if naming
        else None
    )
    return tuple(found)


def _for(term: Term, language: Language) -> tuple[re.Pattern[str] | None, ...]:
    words = language.definition_words
    key = (words.copulas, words.naming, words.appositive, words.articles)
    return _patterns(tuple(sorted(term.forms)), language.code, key)


def defines(sentence: str, term: Term, language: Language) -> bool:
    """Does this plain sentence define the term?"""
    if sentence.rstrip().endswith("?"):
        return False
    copula, appositive, naming = _for(term, language)
    if copula is not None and copula.match(sentence):
        return True
    if appositive is not None and appositive.search(sentence):
        return True
    return naming is not None and naming.search(sentence) is not None


def definiens(sentence: str, term: Term, language: Language) -> str | None:
    """What "X is ..." says X is: the words after the copula, or None."""
    copula = _for(term, language)[0]
    if copula is None:
        return None
    match = copula.match(sentence)
    if not match:
        return None
    rest = sentence[match.end() :].strip().rstrip(".!;:\u3002").strip()
    words = rest.split()
    if not 3 <= len(words) <= _MAX_DEFINIENS_WORDS:
        return None
    return rest
