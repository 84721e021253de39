"""Measuring the study kit of the offline AI on the quality set (issue 15).

``scripts/quality`` prints these figures per lecture and tests/test_local_quality.py
asserts the targets on them. The measures are deliberately independent of the
provider's own machinery: the reference key terms are plain unigram keyness
(frequent in the lecture, rare in the language: wordfreq), the definitional
check is its own small set of patterns, and words are counted with one regular
expression. So the provider cannot grade itself.

    python -m tests.quality                 # the current provider
    python -m tests.quality --rev 0c0e542   # pipeline/providers/local_ai.py of a git revision
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

QUALITY_DIR = Path(__file__).resolve().parent / "data" / "quality"
REFERENCE_TERMS = 20
# (language, what the lecture stands for) by file name.
LECTURES = {
    "en-photosynthesis.md": ("en", "Markdown lecture"),
    "en-python-functions.rst": ("en", "reStructuredText with code"),
    "en-captions-hash-tables.txt": ("en", "caption transcript"),
    "es-sistema-inmunitario.md": ("es", "Spanish Markdown"),
    "fr-revolution-industrielle.txt": ("fr", "French plain text"),
    "de-plattentektonik.md": ("de", "German Markdown (short)"),
    "en-history-of-computing.md": ("en", "long document (Markdown, twelve chapters)"),
}

_WORD_RE = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(?:`{3,}|~{3,})")
_SOUND_TAG_RE = re.compile(r"\[[^\[\]\n]{1,40}\]|\([A-Z][A-Z ]{2,30}\)")
_SPEAKER_RE = re.compile(r"^[ \t]*(?:>>[ \t]*)?([A-Z][A-Z .'-]{1,40}):", re.MULTILINE)
_ILLUSTRATION_RE = re.compile(r"\*\[Illustration unavailable:[^\n]*\]\*|!\[[^\]\n]*\]\([^)\n]*\)")
_NOISE_WORDS = frozenset(
    ["music", "playing", "laughter", "applause", "laughs", "inaudible", "crosstalk", "silence"]
)
_CODE_CHARS = frozenset("()[]{}=<>_#`")


@dataclass(frozen=True)
class Lecture:
    name: str
    language: str
    kind: str
    text: str


@dataclass(frozen=True)
class Kit:
    """What the provider made of one lecture, as the pipeline would store it."""

    structure: dict
    note: str
    quiz: dict
    flashcards: dict
    language: str


@dataclass(frozen=True)
class Figures:
    source_words: int
    note_words: int
    compression: float
    coverage: float
    fronts_key_terms: float
    backs_definitional: float
    noisy_options: float
    questions: int
    cards: int
    quotes_found: float
    language: str


def load_lectures() -> list[Lecture]:
    lectures = []
    for name, (language, kind) in LECTURES.items():
        path = QUALITY_DIR / name
        if path.exists():
            lectures.append(Lecture(name, language, kind, path.read_text(encoding="utf-8")))
    return lectures


# --- words -------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


@cache
def _stemmer(language: str):
    import snowballstemmer

    names = {"en": "english", "es": "spanish", "fr": "french", "de": "german", "it": "italian"}
    return snowballstemmer.stemmer(names.get(language, "english"))


def stem(word: str, language: str) -> str:
    return _stemmer(language).stemWord(word.casefold())


@cache
def _stop_words(language: str) -> frozenset[str]:
    from stop_words import get_stop_words

    return frozenset(word.casefold() for word in get_stop_words(language))


def is_function_word(word: str, language: str) -> bool:
    """A word of the language's stop list that is also very common: a function word."""
    from wordfreq import zipf_frequency

    lowered = word.casefold()
    return lowered in _stop_words(language) and zipf_frequency(lowered, language) >= 5.5


def prose_of_source(text: str) -> str:
    """The source without code blocks, sound tags and speaker labels (what a
    student would call the lecture's words)."""
    kept: list[str] = []
    in_fence = False
    literal = False  # an indented block after "::" (reStructuredText) or a blank line
    for line in text.splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith(("    ", "\t")) and (literal or not line.strip().endswith((".", ","))):
            continue
        literal = line.rstrip().endswith("::")
        if line.lstrip().startswith(".. "):
            continue
        kept.append(line)
    prose = "\n".join(kept)
    prose = _SOUND_TAG_RE.sub(" ", prose)
    return _SPEAKER_RE.sub(" ", prose)


def speaker_labels(text: str) -> set[str]:
    return {match.group(1).strip().casefold() for match in _SPEAKER_RE.finditer(text)}


def reference_key_terms(text: str, language: str, top: int = REFERENCE_TERMS) -> list[str]:
    """Stems of the lecture's top key words: frequent in the lecture (at least
    three times) and rare in the language, by log-likelihood-like keyness."""
    from wordfreq import word_frequency

    tokens = [word for word in words(prose_of_source(text)) if len(word) >= 3]
    total = len(tokens) or 1
    counts: Counter[str] = Counter()
    spelled: dict[str, Counter[str]] = {}
    for token in tokens:
        if token.casefold() in _stop_words(language):
            continue
        key = stem(token, language)
        counts[key] += 1
        spelled.setdefault(key, Counter())[token.casefold()] += 1
    scores = {}
    for key, count in counts.items():
        if count < 3:
            continue
        form = spelled[key].most_common(1)[0][0]
        reference = max(word_frequency(form, language), 1e-8)
        ratio = (count / total) / reference
        if ratio > 1:
            scores[key] = count * math.log2(ratio)
    return sorted(scores, key=lambda key: (-scores[key], key))[:top]


# --- the note as the pipeline assembles it -----------------------------------------------


def note_markdown(structure: dict) -> str:
    """pipeline.render.note_markdown without the database: every picture failed
    (the quiz must cope with the fallback text)."""
    parts = [f"# {structure['title']}"]
    for section in structure["structure"]:
        parts.append(f"## {section['heading'].strip()}")
        parts.append(section["content"].strip())
    body = "\n\n".join(parts) + "\n"
    return re.sub(
        r"\[VISUAL::([^\]\n]{1,500})\]",
        lambda match: f"*[Illustration unavailable: {' '.join(match.group(1).split())}]*",
        body,
    )


Complete = Callable[[str, str], tuple[dict, str]]


def make_kit(complete: Complete, text: str) -> Kit:
    structure, language = complete("lesson_structure", text)
    note = note_markdown(structure)
    quiz, _ = complete("quiz", note)
    flashcards, _ = complete("flashcards", note)
    return Kit(structure, note, quiz, flashcards, language)


# --- the measures -------------------------------------------------------------------------

_DEFINING = {
    "en": (r"(?:is|are|was|were)\b", r"refers? to", r"means?\b", r"describes?\b"),
    "es": (r"(?:es|son|era|eran)\b", r"se (?:llama|denomina|define)", r"significa\b", r"consiste\b"),
    "fr": (r"(?:est|sont|était|étaient)\b", r"désigne\b", r"signifie\b", r"se définit\b"),
    "de": (r"(?:ist|sind|war|waren)\b", r"bezeichnet\b", r"bedeutet\b", r"heißt\b"),
}
_NAMING = {
    "en": r"\b(?:called|known as|named|termed|defined as)\s",
    "es": r"\b(?:llamad[oa]s?|se llama|se denomina|denominad[oa]s?|conocid[oa]s? como)\s",
    "fr": r"\b(?:appelée?s?|qu'on appelle|s'appelle|nommée?s?|désigne)\s",
    "de": r"\b(?:genannt|nennt man|heißt|bezeichnet man|als)\s",
}
_APPOSITIVE = {
    "en": r",\s+(?:which|that|a|an|the)\b",
    "es": r",\s+(?:que|el cual|la cual|un|una)\b",
    "fr": r",\s+(?:qui|un|une|c'est-à-dire)\b",
    "de": r",\s+(?:der|die|das|ein|eine)\b",
}


def _front_pattern(front: str, language: str) -> str:
    """The front's words, each allowed an inflection (stem plus letters)."""
    parts = []
    for word in words(front):
        root = stem(word, language)
        prefix = word.casefold()[: max(len(root), 3)]
        parts.append(re.escape(prefix) + r"\w*")
    return r"[\s-]+".join(parts)


def is_definitional(back: str, front: str, language: str) -> bool:
    """Does the back define the front ("X is ...", "X, which ...", "called X")?"""
    if back.rstrip().endswith("?") or not words(front):
        return False
    lowered = back.casefold()
    term = _front_pattern(front, language)
    verbs = "|".join(_DEFINING.get(language, _DEFINING["en"]))
    article = r"(?:[\w']+\s+){0,2}"
    copula = rf"(?:^|[.:;]\s+){article}{term}(?:\s*\([^)]*\))?(?:\s*,[^,]{{1,80}},)?\s+(?:{verbs})"
    appositive = rf"{term}{_APPOSITIVE.get(language, _APPOSITIVE['en'])}"
    naming = rf"{_NAMING.get(language, _NAMING['en'])}(?:[\w']+\s+){{0,3}}{term}"
    return any(re.search(pattern, lowered) for pattern in (copula, appositive, naming))


def is_noise_option(option: str, language: str, labels: set[str]) -> bool:
    """A stop word, a sound tag or speaker label, a fragment of code, or no word at all."""
    letters = [char for char in option if char.isalpha()]
    if len(letters) < 2:
        return True
    if any(char in _CODE_CHARS for char in option) or re.search(r"\w\.\w", option):
        return True
    lowered = option.casefold().strip()
    if lowered in labels or any(word in _NOISE_WORDS for word in lowered.split()):
        return True
    option_words = words(option)
    return bool(option_words) and all(is_function_word(word, language) for word in option_words)


def _plain_note(note: str) -> str:
    return _ILLUSTRATION_RE.sub(" ", note)


def _squash(text: str) -> str:
    return " ".join(text.replace("**", "").split()).casefold()


def measure(lecture: Lecture, kit: Kit) -> Figures:
    language = lecture.language
    source_words = len(words(lecture.text))
    note_text = _plain_note(kit.note)
    note_words = len(words(note_text))
    reference = reference_key_terms(lecture.text, language)
    note_stems = {stem(word, language) for word in words(note_text)}
    coverage = sum(key in note_stems for key in reference) / len(reference) if reference else 1.0
    wide_reference = set(reference_key_terms(lecture.text, language, top=3 * REFERENCE_TERMS))
    cards = kit.flashcards.get("flashcards", [])
    fronts = [any(stem(word, language) in wide_reference for word in words(card["front"])) for card in cards]
    backs = [is_definitional(card["back"], card["front"], language) for card in cards]
    labels = speaker_labels(lecture.text)
    questions = kit.quiz.get("questions", [])
    options = [option for question in questions for option in question["options"]]
    noisy = [is_noise_option(option, language, labels) for option in options]
    source = _squash(lecture.text)
    quotes = [item.get("quote", "") for item in [*questions, *cards]]
    found = [bool(quote) and _squash(quote) in source for quote in quotes]
    return Figures(
        source_words=source_words,
        note_words=note_words,
        compression=note_words / source_words,
        coverage=coverage,
        fronts_key_terms=sum(fronts) / len(fronts) if fronts else 0.0,
        backs_definitional=sum(backs) / len(backs) if backs else 0.0,
        noisy_options=sum(noisy) / len(noisy) if noisy else 0.0,
        questions=len(questions),
        cards=len(cards),
        quotes_found=sum(found) / len(found) if found else 0.0,
        language=kit.language,
    )


# --- running a provider -------------------------------------------------------------------


def current_provider() -> Complete:
    from pipeline.providers.local import LocalAIProvider

    provider = LocalAIProvider()

    def complete(call: str, text: str) -> tuple[dict, str]:
        completion = provider.complete(call, text)
        return completion.data, completion.language

    return complete


def provider_at_revision(revision: str) -> Complete:
    """The single-module provider (pipeline/providers/local_ai.py) of a git revision."""
    source = subprocess.run(
        ["git", "show", f"{revision}:pipeline/providers/local_ai.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    source = source.replace("from .base import", "from pipeline.providers.base import")
    path = Path(tempfile.mkdtemp()) / "local_ai_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("local_ai_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    provider = module.LocalAIProvider()

    def complete(call: str, text: str) -> tuple[dict, str]:
        completion = provider.complete(call, text)
        return completion.data, completion.language

    return complete


def long_text(chars: int = 200_000) -> str:
    """A text of ``chars`` characters made of the quality set's lectures."""
    lectures = load_lectures()
    parts: list[str] = []
    size = 0
    while size < chars:
        for lecture in lectures:
            if lecture.language == "en":
                parts.append(lecture.text)
                size += len(lecture.text) + 2
    return "\n\n".join(parts)[:chars]


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rev", help="measure pipeline/providers/local_ai.py of this git revision")
    parser.add_argument("--show", metavar="NAME", help="print the note, quiz and cards of one lecture")
    parser.add_argument("--no-timing", action="store_true", help="skip the 200k-character run")
    args = parser.parse_args(argv)
    _setup_django()
    complete = provider_at_revision(args.rev) if args.rev else current_provider()
    header = (
        f"{'lecture':34} {'lang':>4} {'words':>6} {'note':>6} {'compr':>6} {'cover':>6} "
        f"{'frontKT':>7} {'backDef':>7} {'noise':>6} {'quotes':>6} {'Q':>3} {'C':>3}"
    )
    print(header)
    print("-" * len(header))
    for lecture in load_lectures():
        if args.show and args.show not in lecture.name:
            continue
        kit = make_kit(complete, lecture.text)
        figures = measure(lecture, kit)
        print(
            f"{lecture.name:34} {figures.language or '-':>4} {figures.source_words:>6} "
            f"{figures.note_words:>6} {figures.compression:>6.0%} {figures.coverage:>6.0%} "
            f"{figures.fronts_key_terms:>7.0%} {figures.backs_definitional:>7.0%} "
            f"{figures.noisy_options:>6.0%} {figures.quotes_found:>6.0%} {figures.questions:>3} "
            f"{figures.cards:>3}"
        )
        if args.show:
            print("\n" + kit.note)
            for question in kit.quiz.get("questions", []):
                answer = question["options"][question["answerIndex"]]
                print(f"Q: {question['question']}\n   {question['options']} -> {answer}")
            for card in kit.flashcards.get("flashcards", []):
                print(f"C: {card['front']} :: {card['back']}")
    if not args.no_timing:
        text = long_text()
        started = time.perf_counter()
        structure, _ = complete("lesson_structure", text)
        note = note_markdown(structure)
        middle = time.perf_counter()
        complete("quiz", note)
        complete("flashcards", note)
        ended = time.perf_counter()
        print(
            f"\n200,000-character text: lesson structure {middle - started:.2f} s, "
            f"quiz and flashcards {ended - middle:.2f} s (note of {len(note):,} characters)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
