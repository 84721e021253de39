"""Text extraction from caption files, PDFs and pasted text."""

import io
import os

import pytest
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from pipeline.extractors import pdf as pdf_module
from pipeline.extractors.base import ExtractionError
from pipeline.extractors.captions import captions_to_text
from pipeline.extractors.pdf import pdf_to_text
from pipeline.extractors.text import normalize_text

VTT = """WEBVTT - Cell biology, part 2
Kind: captions
Language: en

NOTE
This note spans two lines
and must not appear in the text.

STYLE
::cue { color: yellow; }

REGION
id:fred width:40%

intro
00:00:00.000 --> 00:00:02.500 align:start position:10% line:0
<v Dr. Rivera>Cells are the <b>basic units</b> of life.</v>

00:00:02.600 --> 00:00:05.000
<c.yellow>Mitochondria</c> release energy &amp; heat.

00:00:05.100 --> 00:00:07.000
<c.yellow>Mitochondria</c> release energy &amp; heat.
Ribosomes<00:00:05.900><c> build</c><00:00:06.300><c> proteins.</c>

00:00:07.100 --> 00:00:09.000
Ribosomes build proteins.

00:00:13.000 --> 00:00:15.000
<i>After a pause</i>, the nucleus &lt;stores&gt; DNA&nbsp;safely.
"""

SRT = (
    "\ufeff1\r\n"
    "00:00:01,000 --> 00:00:03,000\r\n"
    "{\\an8}<i>Volcanoes form</i> where plates meet.\r\n"
    "\r\n"
    "2\r\n"
    "00:00:03,200 --> 00:00:05,500\r\n"
    "Magma rises through cracks\r\n"
    "in the crust.\r\n"
    "\r\n"
    "3\r\n"
    "00:00:09,000 --> 00:00:11,000\r\n"
    "- Lava cools into new rock.\r\n"
)


def _text_pdf(*pages: list[str]) -> bytes:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for lines in pages:
        y = 780
        for line in lines:
            document.drawString(72, y, line)
            y -= 16
        document.showPage()
    document.save()
    return buffer.getvalue()


def _image_only_pdf() -> bytes:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    document.setFillColorRGB(0.2, 0.4, 0.7)
    document.rect(72, 400, 300, 200, fill=1)
    document.circle(300, 300, 50, fill=1)
    document.showPage()
    document.save()
    return buffer.getvalue()


def _encrypted(pdf: bytes, user_password: str, algorithm: str = "RC4-128") -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- captions -----------------------------------------------------------------


def test_vtt_keeps_only_the_spoken_words():
    text = captions_to_text(VTT.encode("utf-8")).text
    for gone in ("WEBVTT", "Kind:", "NOTE", "two lines", "STYLE", "color", "REGION", "fred", "intro", "-->"):
        assert gone not in text
    for gone in (
        "<v",
        "<b>",
        "<c",
        "<i>",
        "</",
        "<00",
        "{",
        "align:",
        "position:",
        "00:00",
        "&amp;",
        "Rivera",
    ):
        assert gone not in text
    assert "Cells are the basic units of life." in text
    assert "Mitochondria release energy & heat." in text
    assert "the nucleus <stores> DNA safely." in text


def test_vtt_drops_the_repeated_lines_of_automatic_captions():
    text = captions_to_text(VTT.encode("utf-8")).text
    assert text.count("Mitochondria release energy") == 1
    assert text.count("Ribosomes build proteins.") == 1


def test_vtt_starts_a_paragraph_after_a_pause():
    paragraphs = captions_to_text(VTT.encode("utf-8")).text.split("\n\n")
    assert paragraphs == [
        "Cells are the basic units of life. Mitochondria release energy & heat. Ribosomes build proteins.",
        "After a pause, the nucleus <stores> DNA safely.",
    ]


def test_long_captions_are_split_every_few_sentences():
    cues = "".join(
        f"00:00:{second:02d}.000 --> 00:00:{second:02d}.900\nSentence number {second}.\n\n"
        for second in range(12)
    )
    paragraphs = captions_to_text(f"WEBVTT\n\n{cues}".encode()).text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].count(".") == 5


def test_srt_with_indices_bom_and_crlf():
    text = captions_to_text(SRT.encode("utf-8")).text
    assert text.split("\n\n") == [
        "Volcanoes form where plates meet. Magma rises through cracks in the crust.",
        "Lava cools into new rock.",
    ]


def test_srt_in_latin_1_is_decoded():
    raw = "1\n00:00:01,000 --> 00:00:02,000\nLa cellule est l'unit\u00e9 du vivant.\n".encode("latin-1")
    assert captions_to_text(raw).text == "La cellule est l'unit\u00e9 du vivant."


@pytest.mark.parametrize(
    "raw",
    [
        os.urandom(64).replace(b"-->", b"") + b"\xff\xfe\x00garbage",
        b"Just some notes about cells.\nNo timings here.\n",
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
)
def test_a_file_that_is_not_captions_is_refused(raw):
    with pytest.raises(ExtractionError) as raised:
        captions_to_text(raw)
    assert "WebVTT" in raised.value.message


def test_a_caption_file_without_words_is_refused():
    with pytest.raises(ExtractionError) as raised:
        captions_to_text(b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<b></b>\n\nNOTE only a note\n")
    assert "no text" in raised.value.message


# --- PDF ------------------------------------------------------------------------


def test_text_is_extracted_from_a_pdf_page_by_page():
    pdf = _text_pdf(
        ["Chloroplasts capture light energy.", "They contain the pigment chlorophyll."],
        ["The Calvin cycle fixes carbon dioxide."],
    )
    text = pdf_to_text(io.BytesIO(pdf)).text
    assert "Chloroplasts capture light energy." in text
    assert "They contain the pigment chlorophyll." in text
    first, second = text.split("\n\n")
    assert "Calvin" in second and "Calvin" not in first


def test_line_end_hyphens_are_joined_and_whitespace_normalised():
    text = pdf_to_text(
        io.BytesIO(_text_pdf(["Plants perform photo-", "synthesis    in   their leaves."]))
    ).text
    assert "photosynthesis in their leaves." in text


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_password_protected_pdf_is_refused_with_a_clear_message(algorithm):
    pdf = _encrypted(_text_pdf(["Secret lecture notes."]), user_password="s3cret", algorithm=algorithm)
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(pdf))
    assert raised.value.message.startswith("The PDF is password-protected")


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_encrypted_with_an_empty_user_password_is_read(algorithm):
    # Common for "protected" PDFs: an owner password only, often with AES.
    pdf = _encrypted(_text_pdf(["Open lecture notes."]), user_password="", algorithm=algorithm)
    assert "Open lecture notes." in pdf_to_text(io.BytesIO(pdf)).text


def test_an_image_only_pdf_is_refused_as_having_no_text():
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(_image_only_pdf()))
    assert raised.value.message.startswith("The PDF contains no extractable text (is it scanned images?)")


@pytest.mark.parametrize(
    "raw",
    [
        b"%PDF-1.7\n" + os.urandom(2048),
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"this is not a pdf at all",
        b"",
    ],
)
def test_a_corrupt_pdf_is_refused_as_unreadable(raw):
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(raw))
    assert raised.value.message.startswith("The file is not a readable PDF")


def test_a_pdf_with_too_many_pages_is_refused(monkeypatch):
    monkeypatch.setattr(pdf_module, "MAX_PAGES", 2)
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(_text_pdf(["one"], ["two"], ["three"])))
    assert "3 pages" in raised.value.message and "at most 2" in raised.value.message


# --- pasted text ------------------------------------------------------------------


def test_normalize_text_strips_control_characters_but_keeps_newlines_and_tabs():
    assert normalize_text("a\x00b\x07c\td\x1be\x7f") == "abc\tde"


def test_normalize_text_normalises_newlines_and_collapses_blank_lines():
    raw = "  \r\nTitle\r\n\r\n\r\n\r\n\r\nBody line\rsecond   \n\n\n\n\nEnd\n\n  "
    assert normalize_text(raw) == "Title\n\n\nBody line\nsecond\n\n\nEnd"


def test_normalize_text_of_nothing_is_empty():
    assert normalize_text("\x00 \n\t\n") == ""
