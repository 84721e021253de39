"""Key terms: frequent in the text, rare in the language at large.

Candidates are runs of one to three content words inside a sentence, with
the language's connectors allowed inside ("speed of light", "células de
memoria"); a term never starts or ends with a stop word, a number or a piece
of code. Inflections are merged by stem (Snowball), and a term is written as
the text writes it most often in mid-sentence.

A term's keyness is its count times the log of how much more often the text
uses its words than the language does (wordfreq), so "evaporation" (three
times in a page, rare in English) beats "water" (often in both). A word or
phrase that the text names ("called stomata", "X is ...") is a key term even
when it occurs once. A word that mostly occurs inside a longer term is
absorbed by it ("nuclei" by "condensation nuclei").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .cleaning import ROLE_WORDS, SOUND_WORDS
from .resources import Language, definition_pattern_words

MAX_TERM_WORDS = 3
# Words (letters, with inner apostrophes or hyphens; digits allowed after a letter: "C4", "G3P").
_TOKEN_RE = re.compile(r"[^\W_](?:[\w]|['\u2019\-](?=[^\W_])){0,60}")
_ELISION_RE = re.compile(
    r"^(?:l|d|qu|c|j|n|s|m|t|lorsqu|jusqu|puisqu|dell|all|nell|sull|dall|un)['\u2019]", re.I
)
_CAMEL_RE = re.compile(r"[a-z][A-Z]+[a-z]")
_DEFINED_BONUS = 2.0  # a named or defined term counts as if it occurred this much more


@dataclass(frozen=True)
class Token:
    text: str  # as written
    start: int
    end: int


@dataclass
class Term:
    key: tuple[str, ...]  # stems
    form: str  # as the text writes it
    count: int = 0
    score: float = 0.0
    forms: set[str] = field(default_factory=set)
    sentences: list[int] = field(default_factory=list)  # indexes of sentences holding it
    proper: bool = False
    defined: bool = False
    words: int = 1
    rank: int = 0

    def pattern(self) -> re.Pattern[str]:
        return forms_pattern(tuple(sorted(self.forms)))

    def own_pattern(self) -> re.Pattern[str]:
        """The term as written on its card, singular or plural: what a blank
        replaces (other inflections may be another part of speech)."""
        return forms_pattern(tuple(sorted(form for form in self.forms if _same_word(form, self.form))))

    def solid(self) -> bool:
        """Met twice or more, or named by the text: a term, not a chance word."""
        return self.count >= 2 or self.defined or self.words > 1


def _same_word(form: str, display: str) -> bool:
    form, display = form.casefold(), display.casefold()
    return (
        form == display or form.rstrip("s") == display.rstrip("s") or form in (display + "es", display + "s")
    )


@lru_cache(maxsize=4096)
def forms_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """Any of the spellings, as whole words, any case (literals only: linear)."""
    ordered = sorted(forms, key=lambda form: (-len(form), form))
    alternatives = "|".join(r"[^\S\n]+".join(re.escape(word) for word in form.split()) for form in ordered)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def tokens(text: str, language: Language) -> list[Token]:
    """The words of a plain sentence; French and Italian elisions ("l'eau")
    give the word after the apostrophe."""
    found: list[Token] = []
    for match in _TOKEN_RE.finditer(text):
        word, start = match.group(0), match.start()
        elision = _ELISION_RE.match(word) if language.code in ("fr", "it", "ca") else None
        if elision and elision.end() < len(word):
            found.append(Token(word[: elision.end() - 1], start, start + elision.end() - 1))
            start += elision.end()
            word = word[elision.end() :]
        found.append(Token(word, start, start + len(word)))
    return found


def is_term_word(word: str, language: Language) -> bool:
    """A word that can start or end a term."""
    lowered = word.casefold()
    if len(word) < 2 or len(word) > 45 or "_" in word or word[0].isdigit():
        return False
    if lowered in language.definition_vocabulary:
        return False
    if not any(char.isalpha() for char in word):
        return False
    if language.is_stop_word(lowered) or lowered in SOUND_WORDS or lowered in ROLE_WORDS:
        return False
    return not _CAMEL_RE.search(word) or word.isupper()


def _mid_sentence(tokens_: list[Token], index: int, text: str) -> bool:
    if index == 0:
        return False
    gap = text[tokens_[index - 1].end : tokens_[index].start]
    return not any(char in gap for char in '.!?:;\u00bf\u00a1"\u201c\u00ab(')


def _adjacent(tokens_: list[Token], index: int, text: str) -> bool:
    """Only spaces (or a hyphen) between this token and the previous one."""
    gap = text[tokens_[index - 1].end : tokens_[index].start]
    return len(gap) <= 3 and gap.strip(" -") == ""


class _Candidates:
    def __init__(self, language: Language) -> None:
        self.language = language
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.forms: dict[tuple[str, ...], Counter[str]] = {}
        self.capitalised: Counter[tuple[str, ...]] = Counter()  # mid-sentence, capitalised
        self.mid_sentence: Counter[tuple[str, ...]] = Counter()
        self.sentences: dict[tuple[str, ...], list[int]] = {}
        self.named: set[tuple[str, ...]] = set()
        self.named_forms: Counter[str] = Counter()
        self.after_verb_marker: Counter[tuple[str, ...]] = Counter()
        self.last_capitalised: Counter[tuple[str, ...]] = Counter()

    def add(self, key: tuple[str, ...], form: str, sentence: int, *, mid: bool, after_marker: bool) -> None:
        self.counts[key] += 1
        if after_marker:
            self.after_verb_marker[key] += 1
        if form.rsplit(" ", 1)[-1][:1].isupper():
            self.last_capitalised[key] += 1
        self.forms.setdefault(key, Counter())[form] += 1
        holding = self.sentences.setdefault(key, [])
        if not holding or holding[-1] != sentence:
            holding.append(sentence)
        if mid:
            self.mid_sentence[key] += 1
            if form[:1].isupper():
                self.capitalised[key] += 1


def _naming_re(language: Language) -> re.Pattern[str] | None:
    words = language.definition_words
    if not words.naming:
        return None
    return re.compile(rf"(?<!\w)(?:{definition_pattern_words(words.naming)})\s+", re.IGNORECASE)


def _copula_re(language: Language) -> re.Pattern[str] | None:
    """ "X is a/the ...": a copula and an article name X (without the article,
    "The simplest version is linear probing" would name "simplest version")."""
    words = language.definition_words
    if not words.copulas or not words.articles:
        return None
    return re.compile(
        rf"\s+(?:{definition_pattern_words(words.copulas)})\s+(?:{definition_pattern_words(words.articles)})\b",
        re.IGNORECASE,
    )


def extract_terms(
    sentences: list[str], language: Language, *, boost: frozenset[str] = frozenset()
) -> list[Term]:
    """The key terms of a text given as plain sentences, best first.

    ``boost`` holds spellings (lower case) that the text sets apart, such as
    the words in bold of a note: their keyness counts double.
    """
    candidates = _Candidates(language)
    naming = _naming_re(language)
    copula = _copula_re(language)
    total_words = 0
    for number, sentence in enumerate(sentences):
        found = tokens(sentence, language)
        total_words += len(found)
        named_starts: set[int] = set()
        if naming is not None:
            for match in naming.finditer(sentence):
                named_starts.add(match.end())
        defined_end = -1
        if copula is not None:
            match = copula.search(sentence, 0, 120)
            if match:
                defined_end = match.start()
        for start in range(len(found)):
            first = found[start]
            if not is_term_word(first.text, language):
                continue
            stems: list[str] = []
            content = 0
            for end in range(start, min(len(found), start + MAX_TERM_WORDS + 2)):
                token = found[end]
                if end > start and not _adjacent(found, end, sentence):
                    break
                lowered = token.text.casefold()
                connector = lowered in language.connectors
                if end > start and connector:
                    stems.append(lowered)
                    continue
                if not is_term_word(token.text, language):
                    break
                stems.append(language.stem(token.text))
                content += 1
                if content > MAX_TERM_WORDS:
                    break
                key = tuple(stems)
                form = sentence[first.start : token.end]
                form = " ".join(form.split())
                after_marker = start > 0 and found[start - 1].text.casefold() in language.verb_markers
                candidates.add(
                    key, form, number, mid=_mid_sentence(found, start, sentence), after_marker=after_marker
                )
                if (
                    first.start in named_starts
                    or (start == 0 and token.end == defined_end)
                    or (
                        start == 1
                        and token.end == defined_end
                        and found[0].text.casefold() in language.definition_words.articles
                    )
                ):
                    candidates.named.add(key)
                    candidates.named_forms[form] += 1
    return _rank(candidates, total_words, language, boost)


def _display_form(key: tuple[str, ...], candidates: _Candidates, language: Language) -> tuple[str, bool]:
    forms = candidates.forms[key]
    mid = candidates.mid_sentence[key]
    proper = mid > 0 and candidates.capitalised[key] >= 0.8 * mid
    named = candidates.named_forms
    best = max(
        forms,
        key=lambda form: (
            named[form] > 0,
            forms[form] + (2 * forms[form] if form[:1].islower() else 0),
            len(form),
            form,
        ),
    )
    if proper:
        capitalised = [form for form in forms if form[:1].isupper()]
        best = max(capitalised, key=lambda form: (forms[form], form))
    elif best[:1].isupper() and language.code != "de" and not best.split()[0].isupper():
        first = best.split()[0]
        if first[1:].islower():
            best = best[:1].lower() + best[1:]
    return best, proper


def _keyness(key: tuple[str, ...], count: int, form: str, total: int, language: Language) -> float:
    words = [word for word in form.split() if word.casefold() not in language.connectors]
    if not words:
        return 0.0
    if language.has_frequencies:
        ratios = []
        for word in words:
            share = count / max(total, 1)
            ratios.append(max(0.0, math.log2(share / language.frequency(word))))
        rarity = sum(ratios) / len(ratios)
        if len(words) > 1:
            rarity *= 1.25  # a phrase names one thing more precisely than its words
    else:
        rarity = math.log2(2 + sum(len(word) for word in words) / len(words))
    return count * rarity


def _rank(candidates: _Candidates, total_words: int, language: Language, boost: frozenset[str]) -> list[Term]:
    terms: dict[tuple[str, ...], Term] = {}
    for key, count in candidates.counts.items():
        content_words = sum(1 for part in key if part not in language.connectors)
        named = key in candidates.named
        if content_words > 1 and count < 2 and not named:
            continue
        form, proper = _display_form(key, candidates, language)
        if not named and candidates.after_verb_marker[key] * 2 >= count:
            continue  # "it rises", "to store": a verb
        if language.capitalised_nouns and candidates.last_capitalised[key] * 2 < count:
            continue  # German: not a noun
        if content_words == 1 and language.code == "en" and not named and form.casefold().endswith("ed"):
            continue  # "stored", "heated": a participle
        if content_words == 1:
            word = form
            if len(word) < 3 and not word.isupper():
                continue
            if language.is_generic(word) and not named:
                continue
        elif all(
            language.is_generic(word) for word in form.split() if word.casefold() not in language.connectors
        ):
            continue
        effective = count + (_DEFINED_BONUS if named else 0)
        score = _keyness(key, effective, form, total_words, language)
        if form.casefold() in boost:
            score *= 2
        if score <= 0:
            continue
        terms[key] = Term(
            key=key,
            form=form,
            count=count,
            score=score,
            forms=set(candidates.forms[key]),
            sentences=candidates.sentences[key],
            proper=proper,
            defined=named,
            words=content_words,
        )
    _absorb(terms, candidates)
    ranked = sorted(terms.values(), key=lambda term: (-term.score, term.form))
    for rank, term in enumerate(ranked):
        term.rank = rank
    return ranked


def _absorb(terms: dict[tuple[str, ...], Term], candidates: _Candidates) -> None:
    """A shorter term that mostly occurs inside a longer one goes, and the
    longer one takes its weight; of two overlapping phrases with the same
    count, the longer stays."""
    for key in sorted(terms, key=lambda item: (-len(item), item)):
        term = terms.get(key)
        if term is None or len(key) < 2:
            continue
        for size in range(1, len(key)):
            for offset in range(0, len(key) - size + 1):
                part = key[offset : offset + size]
                shorter = terms.get(part)
                if shorter is None or shorter is term:
                    continue
                if shorter.defined and not term.defined:
                    continue  # a concept the text names on its own ("condensation")
                if term.count >= 0.5 * shorter.count and (term.count >= 2 or shorter.count <= 1):
                    term.score = max(term.score, shorter.score) + 0.25 * min(term.score, shorter.score)
                    term.defined = term.defined or (shorter.defined and term.count >= shorter.count)
                    del terms[part]


def term_in(text: str, term: Term) -> bool:
    return term.pattern().search(text) is not None
