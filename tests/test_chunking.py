"""Long texts for the AI: chunks, samples and merged structures (pipeline/chunking.py)."""

from pipeline.chunking import merge_structures, sample_text, split_chunks
from pipeline.providers.schemas import SCHEMAS


def _long_text(paragraphs: int = 12) -> str:
    return (
        "\n\n".join(
            f"Paragraph {n} talks about topic number {n}. " + "It explains the idea in plain words. " * 6
            for n in range(1, paragraphs + 1)
        )
        + "\n\nThe very last sentence mentions zebrafish regeneration."
    )


def test_split_chunks_cuts_at_paragraphs_and_keeps_everything():
    text = _long_text()
    chunks = split_chunks(text, 1000)
    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert len(chunks) >= 3
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())
    assert chunks[-1].endswith("zebrafish regeneration.")


def test_merging_keeps_every_distinct_visual_once():
    parts = [
        {
            "title": f"Part {n}",
            "structure": [
                {"heading": f"H{n}", "content": f"Text {n}. [VISUAL::Picture {n}] [VISUAL::picture  {n}]"}
            ],
            "visualOpportunities": [
                {"description": f"Picture {n}", "searchQuery": f"q{n}"},
                {"description": f"PICTURE {n}", "searchQuery": "dup"},
            ],
        }
        for n in range(12)
    ]

    merged = merge_structures(parts)

    assert merged["title"] == "Part 0"
    assert [v["description"] for v in merged["visualOpportunities"]] == [f"Picture {n}" for n in range(12)]
    assert "[VISUAL::Picture 11]" in merged["structure"][11]["content"]
    SCHEMAS["lesson_structure"].model_validate(merged)


def test_merging_keeps_at_most_forty_sections_in_order():
    parts = [
        {"title": "T", "structure": [{"heading": f"S{n}-{k}", "content": f"c{n}-{k}"} for k in range(5)]}
        for n in range(10)
    ]
    merged = merge_structures(parts)
    assert len(merged["structure"]) == 40
    joined = "\n".join(s["heading"] + "\n" + s["content"] for s in merged["structure"])
    positions = [joined.index(f"c{n}-{k}") for n in range(10) for k in range(5)]
    assert positions == sorted(positions)


def test_sample_text_leaves_short_texts_alone():
    assert sample_text("short text", 100) == "short text"
