"""The quiz call: questions a student learns from, in the note's language.

Three kinds, in turn where the note supports them:

- term from definition: the defining sentence with the term blanked out;
- definition from term: which of these statements describes the term (the
  options are what the note says several terms are);
- fill in the blank: a central sentence with a key term blanked out.

Distractors are other key terms of the same kind: the same number of words,
a name for a name, similar keyness, from the same section where possible; a
distractor never shares a word with the answer, never appears in the
question, and is never a stop word, a speaker label or code (terms cannot
be). Each question quotes its sentence verbatim.
"""

from __future__ import annotations

import re

from ..base import ProviderError
from .definitions import definiens
from .study import Material, read_note
from .terms import Term

NAME = "local"
_MAX_QUESTION_CHARS = 480
_MAX_OPTION_CHARS = 300
_KINDS = ("term_from_definition", "fill_in_the_blank", "definition_from_term")


def quiz_target(words: int) -> int:
    if words >= 120:
        return min(10, max(5, words // 80))
    return max(1, min(5, words // 20))


def _blank(sentence: str, term: Term) -> str:
    blanked = term.own_pattern().sub("____", sentence)
    if len(blanked) <= _MAX_QUESTION_CHARS - 60:
        return blanked
    words = blanked.split()
    position = next((index for index, word in enumerate(words) if "____" in word), 0)
    start = max(0, position - 25)
    window = " ".join(words[start : start + 50])
    return ("\u2026 " if start else "") + window + (" \u2026" if start + 50 < len(words) else "")


def _shape(term: Term) -> tuple[int, bool]:
    return term.words, term.proper


def distractors(material: Material, answer: Term, question: str, wanted: int = 3) -> list[Term]:
    """Other key terms like the answer, best first."""
    section = _section_of_term(material, answer)
    answer_words = set(answer.key)
    question_lower = question.casefold()

    def value(term: Term) -> tuple[float, int]:
        score = 0.0
        if _section_of_term(material, term) == section:
            score += 2.0
        if term.words == answer.words:
            score += 1.5
        if term.proper == answer.proper:
            score += 1.0
        else:
            score -= 2.0
        if abs(len(term.form) - len(answer.form)) <= 5:
            score += 0.5
        score -= abs(term.rank - answer.rank) / 15
        return (-score, term.rank)

    pool = [
        term
        for term in material.terms[:80]
        if term is not answer
        and (term.solid() or len(material.terms) < 12)
        and not (set(term.key) & answer_words)
        and term.form.casefold() not in question_lower
        and term.pattern().search(question) is None
    ]
    picked: list[Term] = []
    for term in sorted(pool, key=value):
        if any(set(term.key) & set(other.key) for other in picked):
            continue
        if any(term.form.casefold() == other.form.casefold() for other in picked):
            continue
        picked.append(term)
        if len(picked) >= wanted:
            break
    return picked


def _section_of_term(material: Material, term: Term) -> int:
    return material.section_of.get(term.sentences[0], -1) if term.sentences else -1


def _options(answer: str, others: list[str], seed: int) -> tuple[list[str], int]:
    options = list(others)
    position = seed % (len(options) + 1)
    options.insert(position, answer)
    return options, position


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "\u2026"


def build_quiz(markdown: str) -> tuple[dict, str]:
    material = read_note(markdown)
    words = material.words()
    terms = material.terms
    if words < 4 or len(terms) < 2:
        raise ProviderError("text too short for a quiz", transient=False, provider=NAME)
    quiz_words = material.language.quiz_words
    target = quiz_target(words)
    questions: list[dict] = []
    used_sentences: set[int] = set()
    asked: list[set[str]] = []
    definitions = {
        term.rank: text
        for term in terms[:60]
        if term.rank in material.defining
        and (
            text := definiens(
                material.document.sentences[material.defining[term.rank]].plain, term, material.language
            )
        )
    }
    kind_turn = 0
    candidates = terms[:60] + terms[60:120]
    for sweep in range(2):
        for term in candidates:
            if len(questions) >= target:
                break
            if any(set(term.key) & key for key in asked):
                continue
            question = None
            for attempt in range(len(_KINDS)):
                kind = _KINDS[(kind_turn + attempt) % len(_KINDS)]
                question = _make(kind, material, term, definitions, used_sentences, strict=sweep == 0)
                if question is not None:
                    break
            if question is None:
                continue
            kind_turn += 1
            index = question.pop("_sentence")
            used_sentences.add(index)
            asked.append(set(term.key))
            # Positions turn with the question's number (all of them over four
            # questions), from a start that depends on the note.
            seed = len(questions) * 3 + material.seed
            options, position = _options(question.pop("_answer"), question.pop("_others"), seed)
            question["options"] = options
            question["answerIndex"] = position
            questions.append(question)
    if not questions:
        raise ProviderError("text too short for a quiz", transient=False, provider=NAME)
    ordered = [
        {
            "question": question["question"],
            "options": question["options"],
            "answerIndex": question["answerIndex"],
            "explanation": question["explanation"],
            "quote": question["quote"],
        }
        for question in questions
    ]
    del quiz_words
    return {"questions": ordered}, material.language.code


def _make(
    kind: str,
    material: Material,
    term: Term,
    definitions: dict[int, str],
    used: set[int],
    *,
    strict: bool,
) -> dict | None:
    quiz_words = material.language.quiz_words
    sentences = material.document.sentences
    if kind == "term_from_definition":
        index = material.defining.get(term.rank)
        if index is None or index in used:
            return None
        sentence = sentences[index].plain
        blanked = _blank(material.with_context(index), term)
        if "____" not in blanked:
            return None
        text = quiz_words.term_from_definition.format(blank=blanked)
        others = distractors(material, term, text)
        if len(others) < (3 if strict else 1):
            return None
        return _question(text, term.form, [other.form for other in others], sentence, index, material)
    if kind == "definition_from_term":
        own = definitions.get(term.rank)
        index = material.defining.get(term.rank)
        if own is None or index is None or index in used:
            return None
        others = [
            text
            for rank, text in sorted(definitions.items())
            if rank != term.rank and text.casefold() != own.casefold() and term.pattern().search(text) is None
        ]
        if len(others) < (3 if strict else 2):
            return None
        # Definitions of the closest terms by rank: the same kind of statement.
        others.sort(key=lambda text: _rank_distance(text, definitions, term))
        text = quiz_words.definition_from_term.format(term=term.form)
        answer = _clip(own, _MAX_OPTION_CHARS)
        return _question(
            text,
            answer,
            [_clip(other, _MAX_OPTION_CHARS) for other in others[:3]],
            sentences[index].plain,
            index,
            material,
        )
    # fill in the blank: a central sentence that does not define the term
    holding = [
        index
        for index in term.sentences
        if index not in used and material.usable(index) and index != material.defining.get(term.rank)
    ]
    if not holding:
        if strict:
            return None
        holding = [index for index in term.sentences if index not in used and material.usable(index)]
        if not holding:
            return None
    # Not where the term is part of a longer key term ("water" in "water cycle").
    longer = [
        other for other in material.terms[:80] if other.words > term.words and set(term.key) < set(other.key)
    ]
    holding = [index for index in holding if not any(index in other.sentences for other in longer)]
    if not holding:
        return None
    index = max(holding, key=lambda item: (material.scores.get(item, 0.0), -item))
    sentence = sentences[index].plain
    blanked = _blank(sentence, term)
    if "____" not in blanked:
        return None
    text = quiz_words.fill_in_the_blank.format(blank=blanked)
    others = distractors(material, term, text)
    if len(others) < (3 if strict else 1):
        return None
    return _question(text, term.form, [other.form for other in others], sentence, index, material)


def _rank_distance(text: str, definitions: dict[int, str], term: Term) -> int:
    rank = next((rank for rank, other in definitions.items() if other == text), 0)
    return abs(rank - term.rank)


def _question(
    text: str, answer: str, others: list[str], sentence: str, index: int, material: Material
) -> dict | None:
    seen = {answer.casefold()}
    distinct = []
    for other in others:
        if other.casefold() not in seen:
            seen.add(other.casefold())
            distinct.append(other)
    if not distinct:
        return None
    explanation = material.language.quiz_words.explanation.format(sentence=sentence)
    return {
        "question": _clip(re.sub(r"\s+", " ", text), 500),
        "_answer": answer,
        "_others": distinct,
        "explanation": _clip(explanation, 2000),
        "quote": sentence,
        "_sentence": index,
    }
