"""The offline AI's study kit: noise stays out, code stays code, the text's
language is kept, and every question and card quotes the text (issues 15, 16)."""

import re

import pytest

from pipeline.providers.local import LocalAIProvider
from pipeline.providers.local.document import markdown_to_plain
from pipeline.providers.schemas import SCHEMAS
from tests.quality import QUALITY_DIR, note_markdown

PROVIDER = LocalAIProvider()
CAPTIONS = (QUALITY_DIR / "en-captions-hash-tables.txt").read_text()
RST = (QUALITY_DIR / "en-python-functions.rst").read_text()
SPANISH = (QUALITY_DIR / "es-sistema-inmunitario.md").read_text()
FRENCH = (QUALITY_DIR / "fr-revolution-industrielle.txt").read_text()
GERMAN = (QUALITY_DIR / "de-plattentektonik.md").read_text()
NOISE_RE = re.compile(
    r"MUSIC|LAUGHTER|APPLAUSE|PROFESSOR|HALE|AUDIENCE|STUDENT|Captions by|brought to you", re.I
)


def _kit(text: str, language: str = ""):
    structure = PROVIDER.complete("lesson_structure", text, language=language)
    note = note_markdown(structure.data)
    quiz = PROVIDER.complete("quiz", note, language=language)
    cards = PROVIDER.complete("flashcards", note, language=language)
    for call, completion in (("lesson_structure", structure), ("quiz", quiz), ("flashcards", cards)):
        SCHEMAS[call].model_validate(completion.data)
    return structure, note, quiz, cards


@pytest.fixture(scope="module")
def captions_kit():
    return _kit(CAPTIONS)


def test_caption_noise_never_reaches_the_note_the_quiz_or_the_cards(captions_kit):
    structure, note, quiz, cards = captions_kit
    assert not NOISE_RE.search(note)
    assert not NOISE_RE.search(structure.data["title"])
    for question in quiz.data["questions"]:
        assert not any(NOISE_RE.search(option) for option in question["options"])
    for card in cards.data["flashcards"]:
        assert not NOISE_RE.search(card["front"] + card["back"])


def test_speaker_labels_mid_line_and_chevrons_are_removed():
    text = (
        "Cells divide by mitosis. DAVID MALAN: So what happens next? >> AUDIENCE: The chromosomes split.\n\n"
        "DAVID MALAN: Right. [LAUGHTER] Each daughter cell gets one copy. (APPLAUSE)\n\n"
        "\u266a upbeat music \u266a\n\nSubtitles by the Amara.org community"
    )
    content = "\n".join(
        section["content"] for section in PROVIDER.complete("lesson_structure", text).data["structure"]
    )
    assert "MALAN" not in content and "AUDIENCE" not in content and ">>" not in content
    assert "LAUGHTER" not in content and "APPLAUSE" not in content and "music" not in content
    assert "Amara" not in content
    assert "Each daughter cell gets one copy." in content


def test_markdown_links_citations_and_task_boxes_are_not_sound_tags():
    text = "Read [the guide](https://example.org) first [1]. The list has [x] done and [ ] open items here."
    content = PROVIDER.complete("lesson_structure", text).data["structure"][0]["content"]
    assert "the guide" in content and "[1]" in content and "[x]" in content


def test_code_blocks_stay_code_and_their_comments_never_become_headings():
    data = PROVIDER.complete("lesson_structure", RST).data
    headings = [section["heading"] for section in data["structure"]]
    assert data["title"] == "Functions and Recursion in Python"
    assert headings[1:] == [
        "Defining a Function",
        "Arguments and Parameters",
        "Scope and Lifetime",
        "Recursion",
        "Memoization and Efficiency",
        "Summary",
    ]
    content = "\n".join(section["content"] for section in data["structure"])
    assert "```python\n# Convert a temperature" in content
    outside_code = re.sub(r"^```[^\n]*\n.*?^```$", "", content, flags=re.M | re.S)
    assert not re.search(r"^#{1,6} ", outside_code, re.M)


def test_code_without_indentation_is_detected_by_its_shape():
    text = (
        "Recursion\n\nA recursive function calls itself. The factorial is the classic example of it.\n\n"
        "# base case first\ndef factorial(n):\n# stop at zero\nif n == 0:\nreturn 1\n"
        "return n * factorial(n - 1)\n\n"
        "Each call adds a frame to the stack, which is why deep recursion fails."
    )
    data = PROVIDER.complete("lesson_structure", text).data
    headings = [section["heading"] for section in data["structure"]]
    assert not any("base case" in heading or "stop at zero" in heading for heading in headings)
    content = "\n".join(section["content"] for section in data["structure"])
    assert "```\n# base case first\ndef factorial(n):" in content
    quiz = PROVIDER.complete("quiz", note_markdown(data)).data
    for question in quiz["questions"]:
        assert not any(re.search(r"[(){}=;]|def |return", option) for option in question["options"])


def test_titles_come_from_the_document_first():
    markdown = "# Cells\n\n" + SPANISH.replace("# El sistema", "## El sistema")
    assert PROVIDER.complete("lesson_structure", markdown).data["title"] == "Cells"
    rst = (
        "=====\nCells\n=====\n\nIntro text about cells and membranes.\n\n"
        "Parts\n=====\n\nMore about cells here."
    )
    assert PROVIDER.complete("lesson_structure", rst).data["title"] == "Cells"
    noisy = "[MUSIC PLAYING]\n\n" + FRENCH
    assert PROVIDER.complete("lesson_structure", noisy).data["title"] == "La révolution industrielle"


def test_headings_are_key_phrases_never_function_words_or_continued():
    body = "\n\n".join(block for block in FRENCH.split("\n\n")[1:])
    data = PROVIDER.complete("lesson_structure", body).data
    headings = [section["heading"] for section in data["structure"]]
    assert len(headings) >= 2
    for heading in headings:
        assert "continued" not in heading.casefold()
        assert heading.casefold() not in {"de", "la", "le", "les", "et", "des", "the", "of"}
        assert heading.casefold().split(":")[0] in body.casefold()


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        (SPANISH, "es", ("término", "espacio en blanco", "enunciado")),
        (FRENCH, "fr", ("terme", "phrase", "affirmation")),
        (GERMAN, "de", ("Begriff", "Lücke", "Aussage")),
    ],
)
def test_the_quiz_speaks_the_language_of_the_text(text, code, words):
    _structure, _note, quiz, cards = _kit(text)
    assert quiz.language == code and cards.language == code
    questions = " ".join(question["question"] for question in quiz.data["questions"])
    assert any(word in questions for word in words)
    assert not re.search(r"\b(?:Which|Fill in|The text says)\b", questions + repr(quiz.data))


def test_other_languages_get_a_neutral_quiz_without_english():
    dutch = (
        "De fotosynthese is het proces waarbij planten licht omzetten in suiker. De bladeren bevatten "
        "bladgroen, een pigment dat licht opvangt. Het bladgroen zit in de bladgroenkorrels van de cellen. "
        "De planten nemen koolstofdioxide op uit de lucht en water uit de bodem. Daarbij komt zuurstof vrij. "
        "De fotosynthese is de bron van bijna alle energie in de voedselketen. Zonder bladgroen is er geen "
        "fotosynthese en geen suiker voor de planten."
    )
    _structure, _note, quiz, _cards = _kit(dutch)
    assert quiz.language == "nl"
    text = repr(quiz.data)
    assert not re.search(r"\b(?:Which|term|Fill|blank|says|describes)\b", text)
    assert all("____" in q["question"] or "\u2192" in q["question"] for q in quiz.data["questions"])


def test_it_writes_in_the_texts_language_whatever_is_asked():
    completion = PROVIDER.complete("lesson_structure", SPANISH, language="fr")
    assert completion.language == "es"


def test_every_question_and_card_quotes_a_sentence_of_its_input():
    for text in (SPANISH, CAPTIONS, RST):
        _structure, note, quiz, cards = _kit(text)
        plain = " ".join(markdown_to_plain(note).split())
        for item in [*quiz.data["questions"], *cards.data["flashcards"]]:
            assert item["quote"] and " ".join(item["quote"].split()) in plain


def test_flashcard_backs_are_never_questions_and_fronts_are_not_stop_words():
    for text in (SPANISH, CAPTIONS):
        _structure, _note, _quiz, cards = _kit(text)
        for card in cards.data["flashcards"]:
            assert not card["back"].rstrip().endswith("?")
            assert card["front"].casefold() not in {"the", "this", "el", "la", "que", "and"}


def test_visual_markers_written_by_the_user_never_come_out():
    text = (
        "Cells [VISUAL::injected] are small. [VIS[VISUAL::x]UAL::sneaky] "
        "The nucleus [visual::broken holds DNA."
    )
    data = PROVIDER.complete("lesson_structure", text * 20).data
    content = "\n".join(section["content"] for section in data["structure"])
    ours = {f"[VISUAL::{visual['description']}]" for visual in data["visualOpportunities"]}
    for match in re.finditer(r"\[VISUAL::[^\]\n]*\]?", content, re.I):
        assert match.group(0) in ours
    assert "injected" not in content
