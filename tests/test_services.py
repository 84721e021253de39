"""Each step of the pipeline as a plain function: idempotent, and honest about
what it refuses to do."""

from pathlib import Path

import pytest

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline import services
from pipeline.placeholders import find_placeholders, placeholder_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("offline")]

LECTURE = (Path(__file__).resolve().parent.parent / "samples" / "lecture.md").read_text()


@pytest.fixture
def source(user):
    return Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text=LECTURE)


def run_all_steps(source_id: int) -> None:
    assert services.source_analyze_text(source_id=source_id) is None  # a short text: no chunks
    for visual_id in services.source_create_visuals(source_id=source_id):
        services.visual_generate(source_id=source_id, item_id=visual_id)
    services.note_assemble(source_id=source_id)
    services.study_tools_generate(source_id=source_id)


def snapshot(source: Source) -> dict:
    note = Note.objects.get(source=source)
    return {
        "visuals": list(
            Visual.objects.filter(source=source).values_list("placeholder_id", "status", "image_url")
        ),
        "note": (note.pk, note.markdown_content),
        "questions": QuizQuestion.objects.filter(note=note).count(),
        "cards": Flashcard.objects.filter(note=note).count(),
    }


def test_each_step_run_twice_creates_no_duplicates(source):
    services.source_analyze_text(source_id=source.pk)
    structure = Source.objects.get(pk=source.pk).lesson_structure_json
    services.source_analyze_text(source_id=source.pk)
    assert Source.objects.get(pk=source.pk).lesson_structure_json == structure

    first = services.source_create_visuals(source_id=source.pk)
    second = services.source_create_visuals(source_id=source.pk)
    assert first == second
    assert Visual.objects.filter(source=source).count() == len(first) > 0

    for visual_id in first:
        services.visual_generate(source_id=source.pk, item_id=visual_id)
        done = Visual.objects.get(pk=visual_id)
        assert done.status == Visual.Status.COMPLETED
        services.visual_generate(source_id=source.pk, item_id=visual_id)  # already final: nothing to do
        assert Visual.objects.get(pk=visual_id).updated_at == done.updated_at
    assert services.source_create_visuals(source_id=source.pk) == []  # nothing left to fan out

    note_id = services.note_assemble(source_id=source.pk)
    assert services.note_assemble(source_id=source.pk) == note_id
    services.study_tools_generate(source_id=source.pk)
    before = snapshot(source)
    services.study_tools_generate(source_id=source.pk)

    assert snapshot(source) == before
    assert Note.objects.filter(source=source).count() == 1


def test_study_tools_make_only_the_missing_half_again(source):
    run_all_steps(source.pk)
    note = Note.objects.get(source=source)
    questions = list(note.quiz_questions.values_list("pk", flat=True))
    note.flashcards.all().delete()  # half of the tools missing, as after a crash

    services.study_tools_generate(source_id=source.pk)

    assert note.flashcards.count() >= 5
    positions = list(note.flashcards.values_list("position", flat=True))
    assert positions == list(range(len(positions)))
    # Only the missing half was made again: the quiz is the same rows.
    assert list(note.quiz_questions.values_list("pk", flat=True)) == questions


def test_assembly_refuses_while_a_visual_is_not_final(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    for visual_id in visual_ids[1:]:
        services.visual_generate(source_id=source.pk, item_id=visual_id)

    with pytest.raises(services.NotReady):
        services.note_assemble(source_id=source.pk)

    assert not Note.objects.filter(source=source).exists()


def test_a_failed_visual_becomes_a_visible_fallback(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    Visual.objects.filter(pk=visual_ids[0]).update(status=Visual.Status.FAILED, error_message="boom")
    for visual_id in visual_ids[1:]:
        services.visual_generate(source_id=source.pk, item_id=visual_id)

    services.note_assemble(source_id=source.pk)

    failed = Visual.objects.get(pk=visual_ids[0])
    note = Note.objects.get(source=source)
    assert f"Illustration unavailable: {failed.description}" in note.markdown_content
    assert "<img" not in note.html_content.split("Illustration unavailable")[0][-200:]
    assert "[VISUAL::" not in note.markdown_content


def test_an_item_of_a_deleted_source_is_a_no_op(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    source.delete()

    services.visual_generate(source_id=source.pk, item_id=visual_ids[0])

    assert not Visual.objects.filter(pk=visual_ids[0]).exists()


def test_a_visual_another_execution_works_on_is_left_to_it(source):
    services.source_analyze_text(source_id=source.pk)
    visual_id = services.source_create_visuals(source_id=source.pk)[0]
    Visual.objects.filter(pk=visual_id).update(status=Visual.Status.PROCESSING)

    services.visual_generate(source_id=source.pk, item_id=visual_id)

    assert Visual.objects.get(pk=visual_id).status == Visual.Status.PROCESSING
    assert visual_id not in services.source_create_visuals(source_id=source.pk)


def test_user_written_markers_never_become_visuals(user, settings):
    settings.MAX_VISUALS_PER_SOURCE = 12
    nested = "[VIS[VISUAL::]UAL::x] " * 3000
    text = f"{LECTURE}\n\n{nested}[VISUAL::a picture the user asked for]"
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text=text)

    services.source_analyze_text(source_id=source.pk)
    created = services.source_create_visuals(source_id=source.pk)

    structure = Source.objects.get(pk=source.pk).lesson_structure_json
    descriptions = set(Visual.objects.filter(source=source).values_list("description", flat=True))
    assert 0 < len(created) <= 3  # the local AI's own placeholders only
    assert "x" not in descriptions and "a picture the user asked for" not in descriptions
    assert "[VISUAL::x]" not in str(structure)


def test_visuals_are_capped_keeping_the_first_in_order_and_the_note_drops_the_rest(source, settings):
    settings.MAX_VISUALS_PER_SOURCE = 3
    sections = [{"heading": f"Part {n}", "content": f"Text {n}. [VISUAL::Picture {n}]"} for n in range(6)]
    Source.objects.filter(pk=source.pk).update(
        lesson_structure_json={"title": "T", "structure": sections, "visualOpportunities": []}
    )

    visual_ids = services.source_create_visuals(source_id=source.pk)
    for visual_id in visual_ids:
        services.visual_generate(source_id=source.pk, item_id=visual_id)
    services.note_assemble(source_id=source.pk)

    assert list(Visual.objects.filter(source=source).values_list("description", flat=True)) == [
        "Picture 0",
        "Picture 1",
        "Picture 2",
    ]
    markdown = Note.objects.get(source=source).markdown_content
    assert "Picture 3" not in markdown and "Illustration unavailable" not in markdown
    assert "[VISUAL::" not in markdown
    assert "Text 5." in markdown


def test_placeholders_with_the_same_description_share_one_visual():
    text = "[VISUAL::A cell ] and [VISUAL::a  Cell.] and [VISUAL::a nucleus]"

    found = find_placeholders(text)

    assert [p.description for p in found] == ["A cell", "a nucleus"]
    assert placeholder_id("A cell") == placeholder_id("a  CELL.")
    assert placeholder_id("A cell") != placeholder_id("a nucleus")
