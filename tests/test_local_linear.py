"""Every function of the offline AI that reads user text runs in linear time.

Each parsing function gets pathological input of the maximum size
(MAX_TEXT_CHARS) and must finish within a bound derived from a baseline
measured in the same test: the time of the same function on a normal text of
the same size, times five, plus a margin. A quadratic pattern takes minutes
on these inputs; a linear one takes about as long as the baseline.
"""

import time

import pytest
from django.conf import settings

from pipeline.language import detect_language
from pipeline.providers.local import LocalAIProvider
from pipeline.providers.local.blocks import parse_blocks
from pipeline.providers.local.cleaning import clean_source
from pipeline.providers.local.document import markdown_to_plain
from pipeline.providers.local.markup import inline_to_display
from pipeline.providers.local.resources import language_resources
from pipeline.providers.local.sentences import split_sentences
from pipeline.providers.local.terms import extract_terms
from tests.quality import long_text

SIZE = settings.MAX_TEXT_CHARS
MARGIN_SECONDS = 2.0


def _pathological() -> dict[str, str]:
    unit_cases = {
        "newlines": "\n",
        "open brackets": "[",
        "one word": "a",
        "tag openings": "<a",
        "nested emphasis": "**_",
        "emphasis pairs": "*a ",
        "backticks": "`",
        "hashes": "#",
        "quote markers": ">",
        "list markers": "- ",
        "numbered items": "1. a\n",
        "abbreviations": "Dr. ",
        "visual openings": "[VISUAL::",
        "speaker labels": "A: ",
        "sound tags": "[MUSIC] ",
        "link openings": "[a](",
        "comment openings": "<!--",
        "adornments": "=\n",
        "indented code": "    x = 1\n",
        "code lines": "x = f(y);\n",
        "periods": ". ",
        "music notes": "\u266a",
        "parentheses": "(",
        "spaces": " ",
        "colons": "::\n",
        "table rows": "|a|\n",
    }
    cases = {name: (unit * (SIZE // len(unit) + 1))[:SIZE] for name, unit in unit_cases.items()}
    cases["one line of words"] = ("word " * (SIZE // 5 + 1))[:SIZE]
    cases["deep nested markdown"] = ("> " * 2000 + "**" * 2000 + "text" + "**" * 2000 + "\n") * (
        SIZE // 12_004
    )
    return cases


NORMAL = long_text(SIZE)
CASES = _pathological()


def _seconds(function, text: str) -> float:
    started = time.perf_counter()
    function(text)
    return time.perf_counter() - started


def _assert_linear(function, name: str) -> None:
    baseline = _seconds(function, NORMAL)
    bound = baseline * 5 + MARGIN_SECONDS
    took = _seconds(function, CASES[name])
    assert took <= bound, f"{name}: {took:.2f} s, bound {bound:.2f} s (baseline {baseline:.2f} s)"


def _sentences_of(text: str) -> list[str]:
    return split_sentences(text, "en")


def _terms_of(text: str) -> list:
    language = language_resources("en")
    return extract_terms([line for line in text.split("\n") if line][:5000] or [text], language)


FUNCTIONS = {
    "clean_source": clean_source,
    "parse_blocks": parse_blocks,
    "inline_to_display": inline_to_display,
    "markdown_to_plain": markdown_to_plain,
    "split_sentences": _sentences_of,
    "detect_language": detect_language,
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_parsing_functions_are_linear_on_pathological_input(function, name):
    _assert_linear(FUNCTIONS[function], name)


@pytest.mark.parametrize("name", ["one line of words", "one word", "speaker labels", "periods"])
def test_key_terms_are_linear_on_pathological_input(name):
    _assert_linear(_terms_of, name)


@pytest.mark.parametrize(
    "name",
    [
        "newlines",
        "open brackets",
        "one word",
        "tag openings",
        "nested emphasis",
        "code lines",
        "abbreviations",
    ],
)
@pytest.mark.parametrize("call", ["lesson_structure", "quiz", "flashcards"])
def test_the_provider_is_linear_on_pathological_input(call, name):
    provider = LocalAIProvider()

    def run(text: str) -> None:
        try:
            provider.complete(call, text)
        except Exception as error:  # too little text is a ProviderError: a fine answer
            if type(error).__name__ != "ProviderError":
                raise

    _assert_linear(run, name)
