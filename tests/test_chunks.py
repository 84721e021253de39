"""A text longer than the AI takes at once: one task per chunk on the canvas,
a merge as the chord's join, answers kept per chunk (on a real worker)."""

import pytest

from notes.models import Source, TextChunk
from pipeline import services
from pipeline.chunking import split_chunks
from pipeline.errors import ProviderError
from pipeline.models import JobRecord

from .fakes import FakeOpenAI, choose, error, ok, source_text
from .pipeline_helpers import submit, wait_until_final

KEY = "sk-test-CHUNKSkey0123456789abcdef"
CHUNK_CHARS = 1000


def same(text: str) -> str:
    return " ".join(text.split())


def long_text(paragraphs: int = 14) -> str:
    return (
        "\n\n".join(
            f"Paragraph {n} explains topic number {n} in plain words. " + "It adds one more detail. " * 7
            for n in range(1, paragraphs + 1)
        )
        + "\n\nThe very last sentence names the axolotl regeneration experiment."
    )


@pytest.fixture
def openai_fake(settings):
    with FakeOpenAI() as fake:
        settings.AI_PROVIDERS = ["openai"]
        settings.OPENAI_API_KEY = KEY
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_RPM = 100_000
        settings.AI_CHUNK_CHARS = CHUNK_CHARS
        yield fake


@pytest.mark.usefixtures("offline")
def test_a_long_text_is_structured_one_task_per_chunk_and_its_end_reaches_the_note(
    celery_worker, user, openai_fake, settings
):
    settings.AI_PROVIDERS = ["openai"]  # (offline set them to local)
    text = long_text()
    chunks = split_chunks(text, CHUNK_CHARS)
    assert len(chunks) >= 4

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=text))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert "axolotl regeneration" in source.note.markdown_content
    assert source.note.markdown_content.index("Paragraph 1 ") < source.note.markdown_content.index("axolotl")
    sent = sorted(same(source_text(request)) for request in openai_fake.calls("lesson_structure"))
    assert sent == sorted(same(chunk) for chunk in chunks)  # each chunk once
    prompts = [request.json["messages"][1]["content"] for request in openai_fake.calls("lesson_structure")]
    assert any(f"part 2 of {len(chunks)}" in prompt for prompt in prompts)
    records = JobRecord.objects.filter(source=source)
    assert records.filter(job_type="ANALYZE_TEXT_CHUNK", state=JobRecord.State.SUCCESS).count() == len(chunks)
    assert records.filter(job_type="MERGE_LESSON_STRUCTURE", state=JobRecord.State.SUCCESS).count() == 1
    assert TextChunk.objects.filter(source=source, status=TextChunk.Status.COMPLETED).count() == len(chunks)
    assert source.prompt_tokens == 11 * (len(chunks) + 2)  # every chunk, the quiz and the cards


@pytest.mark.usefixtures("offline")
def test_a_chunk_that_fails_for_good_fails_the_source_saying_which_part(
    celery_worker, user, openai_fake, settings
):
    settings.AI_PROVIDERS = ["openai"]
    settings.PROVIDER_MAX_RETRIES = 0
    text = long_text()
    chunks = split_chunks(text, CHUNK_CHARS)
    # The third part is refused for good (a 400); the others answer.
    openai_fake.set_default(
        "lesson_structure",
        choose(
            lambda recorded: error(400, "this part is refused")
            if same(source_text(recorded)) == same(chunks[2])
            else ok()
        ),
    )

    source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=text))

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.ANALYZING_TEXT
    assert source.error_message.startswith(f"Part 3 of {len(chunks)} of the text could not be analyzed:")
    assert "refused" in source.error_message


@pytest.mark.django_db
def test_chunk_answers_are_kept_so_a_second_run_asks_only_for_what_is_missing(user, fake_ai):
    fake_ai.max_input_chars = CHUNK_CHARS
    text = long_text()
    chunks = split_chunks(text, CHUNK_CHARS)
    source = Source.objects.create(owner=user, kind=Source.Kind.TEXT, input_text=text)
    chunk_ids = services.source_analyze_text(source_id=source.pk)
    assert len(chunk_ids) == len(chunks)
    fake_ai.script("lesson_structure", *([None] * 2), ProviderError("down for good"))

    for chunk_id in chunk_ids[:2]:
        services.chunk_analyze(source_id=source.pk, item_id=chunk_id)
    with pytest.raises(ProviderError):
        services.chunk_analyze(source_id=source.pk, item_id=chunk_ids[2])
    asked = fake_ai.count("lesson_structure")

    # A resume plans the chunks again: only those not answered come back.
    again = services.source_analyze_text(source_id=source.pk)
    assert sorted(again) == sorted(chunk_ids[2:])
    for chunk_id in again:
        services.chunk_analyze(source_id=source.pk, item_id=chunk_id)
    services.source_merge_chunks(source_id=source.pk)

    assert fake_ai.count("lesson_structure") == asked + len(chunks) - 2
    structure = Source.objects.get(pk=source.pk).lesson_structure_json
    # Every chunk's sections (the fake writes two per chunk), in order.
    assert len(structure["structure"]) == fake_ai.visuals * len(chunks)
