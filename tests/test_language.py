"""pipeline.language: detecting a text's language, checking and naming codes."""

import pytest

from pipeline.language import ISO_639_1, detect_language, is_language_code, language_name


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Evaporation is the change of liquid water into water vapour, driven by the Sun.", "en"),
        ("El agua se evapora en los océanos y forma nubes que luego traen la lluvia.", "es"),
        ("La photosynthèse transforme la lumière du soleil en sucre dans les feuilles.", "fr"),
        ("Die Zelle ist die kleinste Einheit des Lebens und teilt sich durch Mitose.", "de"),
        ("Il cuore pompa il sangue attraverso le arterie e le vene del corpo umano.", "it"),
        ("O coração bombeia o sangue para todo o corpo através das artérias.", "pt"),
    ],
)
def test_it_detects_the_language_of_a_sentence(text, code):
    assert detect_language(text) == code


def test_it_is_unsure_about_too_little_text():
    assert detect_language("ok") == ""
    assert detect_language("   \n ") == ""
    assert detect_language("12345 678 () [] {}") == ""


def test_markup_and_code_do_not_decide_the_language():
    text = "`def f(x): return x` https://example.org/a/b <b>" + " La célula es la unidad básica de la vida."
    assert detect_language(text) == "es"


def test_every_iso_639_1_code_is_accepted_in_any_case():
    assert len(ISO_639_1) == 183
    assert all(is_language_code(code) for code in ISO_639_1)
    assert is_language_code("ES")
    assert not is_language_code("xx")
    assert not is_language_code("eng")
    assert not is_language_code("")


def test_language_names_are_english_names_for_prompts():
    assert language_name("es") == "Spanish"
    assert language_name("DE") == "German"
    assert language_name("xx") == ""
