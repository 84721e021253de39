"""The targets of issue 15 on the quality set (tests/data/quality, scripts/quality).

The offline AI is deterministic, so its figures on a fixed set of lectures
can be asserted; docs/quality.md records them before and after.
"""

import pytest

from tests.quality import current_provider, load_lectures, make_kit, measure, words

LECTURES = load_lectures()


@pytest.fixture(scope="module")
def figures():
    complete = current_provider()
    return {
        lecture.name: (lecture, measure(lecture, make_kit(complete, lecture.text))) for lecture in LECTURES
    }


def test_the_quality_set_has_three_languages_code_captions_and_long_lectures():
    assert {lecture.language for lecture in LECTURES} >= {"en", "es", "fr"}
    assert sum(len(lecture.text.split()) > 1000 for lecture in LECTURES) >= 3
    # A long document, so the condensing is measured where it matters most.
    assert any(len(words(lecture.text)) >= 10_000 for lecture in LECTURES)


@pytest.mark.parametrize("name", [lecture.name for lecture in LECTURES])
def test_long_sources_are_condensed_and_keep_their_key_terms(figures, name):
    lecture, measured = figures[name]
    assert measured.language == lecture.language
    if measured.source_words > 1000:
        assert measured.compression <= 0.40
    elif measured.source_words > 500:
        assert measured.compression <= 0.50
    assert measured.coverage >= 0.90


@pytest.mark.parametrize("name", [lecture.name for lecture in LECTURES])
def test_cards_and_quiz_teach(figures, name):
    _lecture, measured = figures[name]
    assert measured.noisy_options == 0
    assert measured.quotes_found >= 0.9
    assert measured.questions >= 5
    assert measured.cards >= 5
    assert measured.backs_definitional >= 0.5
    if measured.source_words > 500:
        assert measured.fronts_key_terms >= 0.5
