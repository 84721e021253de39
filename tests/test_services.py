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
    assert services.source_analyze_text(source_id=source_id)
    for visual_id in services.source_create_visuals(source_id=source_id):
        services.visual_generate(visual_id=visual_id)
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
        assert services.visual_generate(visual_id=visual_id) == Visual.Status.COMPLETED
        assert services.visual_generate(visual_id=visual_id) is None  # already final: nothing to do

    note_id = services.note_assemble(source_id=source.pk)
    assert services.note_assemble(source_id=source.pk) == note_id
    services.study_tools_generate(source_id=source.pk)
    before = snapshot(source)
    Source.objects.filter(pk=source.pk).update(processing_status=Source.Status.PROCESSING)
    services.study_tools_generate(source_id=source.pk)

    assert snapshot(source) == before
    assert Note.objects.filter(source=source).count() == 1


def test_study_tools_regenerated_replace_the_old_ones(source):
    run_all_steps(source.pk)
    note = Note.objects.get(source=source)
    note.flashcards.all().delete()  # half of the tools missing, as after a crash
    Source.objects.filter(pk=source.pk).update(processing_status=Source.Status.PROCESSING)

    services.study_tools_generate(source_id=source.pk)

    assert note.flashcards.count() >= 5
    positions = list(note.quiz_questions.values_list("position", flat=True))
    assert positions == list(range(len(positions)))


def test_assembly_refuses_while_a_visual_is_not_final(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    for visual_id in visual_ids[1:]:
        services.visual_generate(visual_id=visual_id)

    with pytest.raises(services.VisualsNotReady):
        services.note_assemble(source_id=source.pk)

    assert not Note.objects.filter(source=source).exists()


def test_a_failed_visual_becomes_a_visible_fallback(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    Visual.objects.filter(pk=visual_ids[0]).update(status=Visual.Status.FAILED, error_message="boom")
    for visual_id in visual_ids[1:]:
        services.visual_generate(visual_id=visual_id)

    services.note_assemble(source_id=source.pk)

    failed = Visual.objects.get(pk=visual_ids[0])
    note = Note.objects.get(source=source)
    assert f"Illustration unavailable: {failed.description}" in note.markdown_content
    assert "<img" not in note.html_content.split("Illustration unavailable")[0][-200:]
    assert "[VISUAL::" not in note.markdown_content


def test_a_deleted_source_makes_every_step_a_no_op(source):
    services.source_analyze_text(source_id=source.pk)
    visual_ids = services.source_create_visuals(source_id=source.pk)
    source.delete()

    assert services.source_create_visuals(source_id=source.pk) is None
    assert services.visual_generate(visual_id=visual_ids[0]) is None
    assert services.note_assemble(source_id=source.pk) is None
    assert services.study_tools_generate(source_id=source.pk) is False


def test_a_failed_source_is_not_moved_by_a_late_task(source):
    services.source_fail(source_id=source.pk, stage=Source.Stage.ANALYZING_TEXT, message="AI down")

    assert services.source_analyze_text(source_id=source.pk) is False

    source.refresh_from_db()
    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT


def test_placeholders_with_the_same_description_share_one_visual():
    text = "[VISUAL::A cell ] and [VISUAL::a  Cell.] and [VISUAL::a nucleus]"

    found = find_placeholders(text)

    assert [p.description for p in found] == ["A cell", "a nucleus"]
    assert placeholder_id("A cell") == placeholder_id("a  CELL.")
    assert placeholder_id("A cell") != placeholder_id("a nucleus")
