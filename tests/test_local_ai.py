"""The offline AI provider: valid, useful, deterministic output from text alone."""

import re

import pytest

from pipeline.providers.base import ProviderError
from pipeline.providers.local import LocalAIProvider
from pipeline.providers.local.document import key_terms, markdown_to_plain
from pipeline.providers.schemas import SCHEMAS

LECTURE = """# The Water Cycle

Water on Earth is always on the move. The same molecules that fall as rain today may have
floated in the ocean, drifted as a cloud or lain frozen in a glacier for thousands of years.
The water cycle describes this endless journey between the oceans, the atmosphere and the land.

## Evaporation and Transpiration

Evaporation is the change of liquid water into water vapour. The energy for evaporation comes
from the Sun, which heats the surface of oceans, lakes and rivers. Warm, dry and windy weather
speeds it up. The oceans supply most of the vapour in the atmosphere, because they cover about
seventy percent of the planet.

Plants add water vapour too. Roots take up water from the soil, and leaves release it through
tiny pores called stomata. This loss of water from leaves is called transpiration. A single
large oak tree can transpire hundreds of litres of water on a hot summer day.

## Condensation and Clouds

Air cools as it rises, and cool air can hold less water vapour than warm air. When rising air
reaches its dew point, the vapour turns back into tiny liquid droplets. This process is called
condensation. The droplets form around specks of dust, salt or smoke known as condensation
nuclei. Billions of these droplets together make a cloud. Fog is simply a cloud that forms close
to the ground.

## Precipitation and Runoff

Inside a cloud, droplets collide and merge until they grow too heavy to stay aloft. They then
fall as precipitation: rain, snow, sleet or hail, depending on the temperature of the air below.
Some precipitation soaks into the ground and becomes groundwater, which can stay underground in
rock layers called aquifers for centuries. The rest flows over the surface as runoff, gathering
in streams and rivers that carry it back to the sea.

Glaciers and ice sheets store water for much longer. Together they hold about two thirds of the
fresh water on the planet. When they melt, the stored water rejoins the cycle and sea level rises.
"""

HEADINGS = [
    "Introduction",
    "Evaporation and Transpiration",
    "Condensation and Clouds",
    "Precipitation and Runoff",
]
PLACEHOLDER_RE = re.compile(r"\[VISUAL::([^\]\n]*)\]")


@pytest.fixture(scope="module")
def provider():
    return LocalAIProvider()


@pytest.fixture(scope="module")
def structure(provider):
    return provider.complete("lesson_structure", LECTURE).data


@pytest.fixture(scope="module")
def quiz(provider):
    return provider.complete("quiz", LECTURE).data


@pytest.fixture(scope="module")
def flashcards(provider):
    return provider.complete("flashcards", LECTURE).data


def _plain_lower():
    return " ".join(markdown_to_plain(LECTURE).split()).casefold()


def test_the_provider_is_named_local(provider):
    assert provider.name == "local"


@pytest.mark.parametrize("call", ["lesson_structure", "quiz", "flashcards"])
def test_every_call_validates_against_its_schema_and_costs_no_tokens(provider, call):
    completion = provider.complete(call, LECTURE)
    SCHEMAS[call].model_validate(completion.data)
    assert completion.prompt_tokens == 0
    assert completion.completion_tokens == 0


def test_lesson_title_comes_from_the_first_heading(structure):
    assert structure["title"] == "The Water Cycle"


def test_sections_follow_the_texts_headings(structure):
    assert [section["heading"] for section in structure["structure"]] == HEADINGS


def test_section_content_is_the_text_of_the_section(structure):
    content = structure["structure"][2]["content"]
    assert "This process is called" in content
    assert "condensation" in content
    assert "Evaporation is the change" not in content
    assert "#" not in "".join(section["content"] for section in structure["structure"])


def test_lesson_has_one_to_three_placeholders_matching_the_visual_opportunities(structure):
    content = "\n".join(section["content"] for section in structure["structure"])
    placeholders = PLACEHOLDER_RE.findall(content)
    descriptions = [visual["description"] for visual in structure["visualOpportunities"]]
    assert 1 <= len(placeholders) <= 3
    assert placeholders == descriptions
    assert len(set(descriptions)) == len(descriptions)
    for visual in structure["visualOpportunities"]:
        assert "]" not in visual["description"] and "\n" not in visual["description"]
        assert visual["searchQuery"].strip()
        # The description names the key term first, then the terms around it;
        # the query leads with that term.
        term = visual["description"].split(":", 1)[0]
        assert visual["searchQuery"].casefold().startswith(term.casefold())
        assert term.casefold() in _plain_lower()


def test_placeholders_stand_alone_after_a_paragraph(structure):
    for section in structure["structure"]:
        blocks = section["content"].split("\n\n")
        for index, block in enumerate(blocks):
            if "[VISUAL::" in block:
                assert PLACEHOLDER_RE.fullmatch(block)
                assert index > 0 and "[VISUAL::" not in blocks[index - 1]


def test_placeholders_are_spread_over_sections(structure):
    holding = [section for section in structure["structure"] if "[VISUAL::" in section["content"]]
    assert len(holding) == len(structure["visualOpportunities"])


def test_every_call_is_deterministic(provider):
    for call in ("lesson_structure", "quiz", "flashcards"):
        assert provider.complete(call, LECTURE).data == provider.complete(call, LECTURE).data


def test_plain_text_headings_become_sections(provider):
    plain = re.sub(r"^#+ ", "", LECTURE, flags=re.MULTILINE)
    data = provider.complete("lesson_structure", plain).data
    SCHEMAS["lesson_structure"].model_validate(data)
    assert data["title"] == "The Water Cycle"
    assert [section["heading"] for section in data["structure"]] == HEADINGS


def test_text_without_headings_is_grouped_into_sections_named_by_key_terms(provider):
    body = "\n\n".join(block for block in LECTURE.split("\n\n") if not block.startswith("#"))
    data = provider.complete("lesson_structure", body * 2).data
    SCHEMAS["lesson_structure"].model_validate(data)
    headings = [section["heading"] for section in data["structure"]]
    assert len(headings) >= 2
    assert len({heading.casefold() for heading in headings}) == len(headings)
    assert 0 < len(data["title"]) <= 80
    assert all(heading.casefold() in body.casefold() for heading in headings)


def test_a_single_sentence_still_yields_a_valid_structure(provider):
    data = provider.complete("lesson_structure", "Photosynthesis turns light into sugar.").data
    SCHEMAS["lesson_structure"].model_validate(data)
    assert len(data["structure"]) == 1
    assert "Photosynthesis turns light into sugar." in data["structure"][0]["content"]
    assert len(data["visualOpportunities"]) <= 1
    content = data["structure"][0]["content"]
    assert PLACEHOLDER_RE.findall(content) == [v["description"] for v in data["visualOpportunities"]]


def test_visual_markers_already_in_the_input_are_dropped(provider):
    text = "Cells [VISUAL::injected] are small. The nucleus [VISUAL::broken holds DNA."
    data = provider.complete("lesson_structure", text).data
    content = "\n".join(section["content"] for section in data["structure"])
    assert "injected" not in content
    assert PLACEHOLDER_RE.findall(content) == [v["description"] for v in data["visualOpportunities"]]


def test_empty_text_is_a_permanent_error(provider):
    with pytest.raises(ProviderError) as raised:
        provider.complete("lesson_structure", " \n\n ")
    assert raised.value.transient is False
    assert raised.value.provider == "local"


def test_quiz_has_at_least_five_questions_for_a_lecture(quiz):
    assert len(quiz["questions"]) >= 5


def test_quiz_answers_appear_in_the_text(quiz):
    text = _plain_lower()
    for question in quiz["questions"]:
        answer = question["options"][question["answerIndex"]]
        assert answer.casefold() in text


def test_quiz_questions_blank_out_their_answer(quiz):
    for question in quiz["questions"]:
        answer = question["options"][question["answerIndex"]]
        assert "____" in question["question"]
        assert not re.search(rf"\b{re.escape(answer)}\b", question["question"], re.IGNORECASE)
        # The explanation quotes the sentence with the answer in it.
        assert answer.casefold() in question["explanation"].casefold()


def test_quiz_options_are_unique_and_the_distractors_are_other_key_terms(quiz):
    text = _plain_lower()
    for question in quiz["questions"]:
        options = question["options"]
        assert 2 <= len(options) <= 4
        assert len({option.casefold() for option in options}) == len(options)
        for option in options:
            assert option.casefold() in text
    assert sum(len(question["options"]) == 4 for question in quiz["questions"]) >= 4


def test_quiz_answer_positions_vary(quiz):
    positions = [question["answerIndex"] for question in quiz["questions"]]
    assert len(set(positions)) >= 3


def test_quiz_ignores_images_links_code_and_placeholders_of_the_note(provider):
    note = (
        LECTURE.replace("## Condensation", "![A cloud](https://img.example/cloud.png)\n\n## Condensation")
        .replace("the atmosphere", "[the atmosphere](https://example.org/air)")
        .replace("Fog is simply", "[VISUAL::Photo of fog over a valley] <b>Fog</b> is simply")
        + "\n```python\nprint('not study material')\n```\n"
    )
    data = provider.complete("quiz", note).data
    SCHEMAS["quiz"].model_validate(data)
    blob = repr(data)
    for leftover in ("http", "VISUAL", "<b>", "print(", "!["):
        assert leftover not in blob


def test_quiz_on_a_short_text_has_at_least_one_question(provider):
    text = "Mitochondria release energy from glucose. Ribosomes build proteins from amino acids."
    data = provider.complete("quiz", text).data
    SCHEMAS["quiz"].model_validate(data)
    assert len(data["questions"]) >= 1


def test_quiz_on_a_text_too_short_is_a_permanent_error(provider):
    with pytest.raises(ProviderError) as raised:
        provider.complete("quiz", "Hello.")
    assert "too short" in str(raised.value)
    assert raised.value.transient is False
    assert raised.value.provider == "local"


def test_flashcards_pair_key_terms_with_their_sentences(flashcards):
    cards = flashcards["flashcards"]
    text = _plain_lower()
    assert len(cards) >= 5
    assert len({card["front"].casefold() for card in cards}) == len(cards)
    for card in cards:
        assert card["front"].casefold() in text
        assert card["front"].casefold() in card["back"].casefold()
        assert card["back"].casefold() in text


def test_flashcards_prefer_a_defining_sentence(flashcards):
    backs = {card["front"].casefold(): card["back"] for card in flashcards["flashcards"]}
    assert backs["evaporation"] == "Evaporation is the change of liquid water into water vapour."


def test_unknown_call_is_a_provider_error(provider):
    with pytest.raises(ProviderError):
        provider.complete("summary", LECTURE)


def test_key_terms_are_spelled_as_in_the_text_and_not_repeated():
    terms = key_terms(markdown_to_plain(LECTURE), limit=15)
    text = _plain_lower()
    assert len(terms) >= 8
    assert all(term.casefold() in text for term in terms)
    assert len({term.casefold() for term in terms}) == len(terms)


def test_markdown_to_plain_keeps_words_and_drops_markup():
    markdown = (
        "## Title\n\nSome **bold** and _italic_ text with `code` and a [link](http://x.y).\n\n"
        "![img](http://x.y/a.png)\n\n- item &amp; more\n\n<div>html</div>\n\n[VISUAL::a picture]"
    )
    plain = markdown_to_plain(markdown)
    assert plain.split("\n\n") == [
        "Title",
        "Some bold and italic text with code and a link.",
        "item & more",
        "html",
    ]
