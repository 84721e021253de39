"""Text extraction from caption files, PDFs and pasted text."""

import importlib.util
import io
import logging
import os
import zlib

import pytest
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from pipeline.extractors import pdf as pdf_module
from pipeline.extractors.base import ExtractionError
from pipeline.extractors.captions import captions_to_text
from pipeline.extractors.pdf import pdf_to_text
from pipeline.extractors.text import normalize_text
from tests.pdf_factory import raw_pdf, text_pdf

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


def _vtt(*cues: tuple[float, float, str]) -> bytes:
    def stamp(seconds: float) -> str:
        return f"{int(seconds // 3600):02d}:{int(seconds // 60 % 60):02d}:{seconds % 60:06.3f}"

    return ("WEBVTT\n\n" + "".join(f"{stamp(a)} --> {stamp(b)}\n{text}\n\n" for a, b, text in cues)).encode()


def _assert_anchors_start_paragraphs(extracted, starts: list[float]) -> None:
    """Each anchor points at the first character of a paragraph, with the
    start of that paragraph's first cue."""
    assert [anchor.seconds for anchor in extracted.anchors] == starts
    paragraphs = [part.strip("\n") for part in extracted.text.split("\n\n") if part.strip("\n")]
    assert len(paragraphs) == len(starts)
    for anchor, paragraph in zip(extracted.anchors, paragraphs, strict=True):
        assert extracted.text[anchor.offset :].startswith(paragraph)


def test_sound_and_music_tags_are_dropped():
    extracted = captions_to_text(
        _vtt(
            (0, 2, "[MUSIC PLAYING]"),
            (2, 4, "[LAUGHTER] Cells divide by mitosis."),
            (4, 6, "(applause) Each daughter cell (LAUGHS) gets a copy."),
            (6, 8, "\u266a la la la \u266a Chromosomes condense first."),
            (8, 9, "\u266a and a song that never closes"),
            (9, 10, "(DOOR CLOSES) Then the spindle forms (in animal cells)."),
        )
    )
    assert extracted.text == (
        "Cells divide by mitosis. Each daughter cell gets a copy. Chromosomes condense first. "
        "Then the spindle forms (in animal cells)."
    )
    # The paragraph starts with the first cue that holds words, not the music.
    assert extracted.anchors[0].seconds == 2.0


def test_an_acronym_in_parentheses_is_a_word_not_a_sound():
    assert captions_to_text(_vtt((0, 2, "It is stored as (DNA) in the nucleus."))).text == (
        "It is stored as (DNA) in the nucleus."
    )


def test_speaker_labels_go_and_a_new_speaker_starts_a_paragraph():
    extracted = captions_to_text(
        _vtt(
            (0.0, 1.5, "DAVID MALAN: All right, this is CS50."),
            (1.5, 3.0, "Today: memory."),
            (3.0, 4.5, "AUDIENCE: What about pointers?"),
            (4.5, 6.0, ">> DAVID MALAN: Good question. Pointers hold addresses."),
            (6.0, 7.0, ">> Is that on the exam?"),
            (7.0, 8.0, "[Speaker] It is. >> Thanks!"),
            (8.0, 9.0, "<v Dr. Rivera>Cells are small.</v>"),
            (9.0, 10.0, "<v Dr. Rivera>Very small.</v>"),
        )
    )
    assert extracted.text.split("\n\n") == [
        "All right, this is CS50. Today: memory.",
        "What about pointers?",
        "Good question. Pointers hold addresses.",
        "Is that on the exam?",
        "It is.",
        "Thanks!",
        "Cells are small. Very small.",
    ]
    _assert_anchors_start_paragraphs(extracted, [0.0, 3.0, 4.5, 6.0, 7.0, 7.0, 8.0])


def test_a_label_on_a_line_of_its_own_starts_the_next_speakers_paragraph():
    text = captions_to_text(
        _vtt((0, 1, "The membrane is fluid."), (1, 2, "PROFESSOR OAK:"), (2, 3, "And it is selective."))
    ).text
    assert text.split("\n\n") == ["The membrane is fluid.", "And it is selective."]


@pytest.mark.parametrize(
    "line",
    [
        "Subtitles by the Amara.org community",
        "Sync and corrections by n17t01",
        "Downloaded from www.OpenSubtitles.org",
        "Support us and become VIP member to remove all ads from www.OpenSubtitles.org",
        "Captioning provided by Caption Colorado",
        "Subtitles: Jane Doe",
        "Subt\u00edtulos por la comunidad de Amara.org",
        "Advertise your product or brand here",
    ],
)
def test_credit_and_advertisement_lines_are_dropped(line):
    raw = _vtt((0, 2, line), (2, 4, "Enzymes lower the activation energy."), (4, 6, line))
    assert captions_to_text(raw).text == "Enzymes lower the activation energy."


@pytest.mark.parametrize(
    "line",
    [
        "DNA is transcribed by RNA polymerase.",
        "These proteins are encoded by genes.",
        "The data was downloaded from the lab server.",
        "Translation by ribosomes happens in the cytoplasm.",
    ],
)
def test_science_that_sounds_like_a_credit_stays(line):
    assert captions_to_text(_vtt((0, 2, line))).text == line


YOUTUBE_AUTO = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.500 align:start position:0%
\x20
so<00:00:00.320><c> today</c><00:00:00.640><c> we</c>

00:00:02.500 --> 00:00:02.510 align:start position:0%
so today we
\x20

00:00:02.510 --> 00:00:05.000 align:start position:0%
so today we
are<00:00:02.800><c> going</c><00:00:03.000><c> to</c><00:00:03.200><c> talk</c>

00:00:05.000 --> 00:00:05.010 align:start position:0%
are going to talk
\x20

00:00:05.010 --> 00:00:07.000 align:start position:0%
are going to talk
about<00:00:05.500><c> the</c><00:00:05.800><c> mitochondria</c>

00:00:07.000 --> 00:00:09.000 align:start position:0%
the mitochondria is the powerhouse

00:00:09.000 --> 00:00:11.000 align:start position:0%
powerhouse of the cell
"""


def test_rolling_automatic_captions_keep_each_word_once():
    extracted = captions_to_text(YOUTUBE_AUTO.encode())
    assert extracted.text == (
        "so today we are going to talk about the mitochondria is the powerhouse of the cell"
    )
    assert extracted.anchors[0].seconds == 0.0


def test_short_words_repeated_across_cues_are_speech():
    text = captions_to_text(_vtt((0, 1, "I know that"), (1, 2, "that is true."))).text
    assert text == "I know that that is true."


def test_a_long_pause_starts_a_section_and_a_short_one_a_paragraph():
    extracted = captions_to_text(
        _vtt(
            (0.0, 2.0, "Part one is about cells."),
            (5.0, 7.0, "A new paragraph after three seconds."),
            (15.0, 17.0, "Part two is about tissues."),
            (17.5, 19.0, "It goes on."),
        )
    )
    assert extracted.text == (
        "Part one is about cells.\n\nA new paragraph after three seconds."
        "\n\n\nPart two is about tissues. It goes on."
    )
    _assert_anchors_start_paragraphs(extracted, [0.0, 5.0, 15.0])


def test_music_between_two_parts_is_a_pause():
    extracted = captions_to_text(
        _vtt(
            (0.0, 2.0, "End of part one."),
            (2.0, 20.0, "[MUSIC PLAYING]"),
            (20.0, 22.0, "Welcome to part two."),
        )
    )
    assert extracted.text == "End of part one.\n\n\nWelcome to part two."
    _assert_anchors_start_paragraphs(extracted, [0.0, 20.0])


def test_the_shape_survives_normalisation():
    text = captions_to_text(_vtt((0, 1, "One."), (10, 11, "Two."), (13.5, 14, "Three."))).text
    assert normalize_text(text) == text == "One.\n\n\nTwo.\n\nThree."


@pytest.mark.parametrize(
    ("filename", "title"),
    [
        ("Lecture_05_Vaccines.en.vtt", "Lecture 05 Vaccines"),
        ("The Krebs cycle [dQw4w9WgXcQ].en.vtt", "The Krebs cycle"),
        ("Copy of Photosynthesis (2).srt", "Photosynthesis"),
        ("captions (3).srt", ""),
        ("[MUSIC] Lecture 3 Enzymes.vtt", "Lecture 3 Enzymes"),
        ("Subtitles by OpenSubtitles.org.srt", ""),
        ("subtitles.en.srt", ""),
        ("a1b2c3d4e5f6.vtt", ""),
        ("", ""),
    ],
)
def test_a_caption_files_title_comes_from_a_meaningful_name(filename, title):
    assert captions_to_text(SRT.encode(), filename=filename).title == title


def test_a_webvtt_header_gives_the_title_when_the_name_says_nothing():
    assert captions_to_text(VTT.encode(), filename="captions (3).vtt").title == "Cell biology, part 2"
    assert captions_to_text(VTT.encode(), filename="Cell_Day.vtt").title == "Cell Day"


@pytest.mark.parametrize("header", ["WEBVTT - [MUSIC PLAYING]", "WEBVTT - Subtitles by OpenSubtitles.org"])
def test_a_title_is_never_a_sound_tag_or_an_advertisement(header):
    raw = f"{header}\n\n00:00:00.000 --> 00:00:02.000\nOsmosis moves water.\n".encode()
    assert captions_to_text(raw, filename="captions.vtt").title == ""


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


def _note_text(extracted) -> str:
    return extracted.note_text()


def _assert_page_anchors(extracted, first_lines: dict[int, str]) -> None:
    """One anchor per page, at the first character of that page's text."""
    assert [anchor.page for anchor in extracted.anchors] == list(first_lines)
    for anchor in extracted.anchors:
        assert extracted.text[anchor.offset :].startswith(first_lines[anchor.page])
        if anchor.offset:
            assert extracted.text[anchor.offset - 2 : anchor.offset] == "\n\n"


def test_fonttools_is_there_for_pypdf_to_read_cff_fonts():
    # pypdf reads the encoding of CFF Type1 fonts (math symbols) with it.
    assert importlib.util.find_spec("fontTools.cffLib") is not None


def test_ligatures_are_taken_apart():
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (The \\001rst e\\002ect of o\\003ce work) Tj ET")
    pdf = raw_pdf([content], to_unicode={1: "\ufb01", 2: "\ufb00", 3: "\ufb03"})
    assert pdf_to_text(io.BytesIO(pdf)).text == "The first effect of office work"


def test_running_headers_and_page_numbers_are_excluded_but_kept_in_the_text():
    topics = ["enzymes", "substrates", "inhibitors", "cofactors", "kinetics"]
    pages = [[f"This page is about {topic}.", f"More on {topic} here."] for topic in topics]
    pdf = text_pdf(*pages, header="Biochemistry 101 - Lecture 4", footer="Page {page} of 5")
    extracted = pdf_to_text(io.BytesIO(pdf))

    assert extracted.text.count("Biochemistry 101 - Lecture 4") == 5
    assert "Page 3 of 5" in extracted.text
    note = extracted.note_text()
    assert "Biochemistry 101" not in note and "Page" not in note
    for topic in topics:
        assert f"This page is about {topic}.\nMore on {topic} here." in note
    _assert_page_anchors(extracted, {number: "Biochemistry 101 - Lecture 4" for number in range(1, 6)})
    for start, end in extracted.excluded:
        assert extracted.text[start:end].strip() in {"Biochemistry 101 - Lecture 4"} | {
            f"Page {number} of 5" for number in range(1, 6)
        }


def test_numbered_slide_titles_are_not_running_headers():
    slides = [
        [f"Exercise {number}", f"Balance equation {chr(64 + number)} with care."]
        for number in (1, 2, 4, 5, 7)
    ]
    extracted = pdf_to_text(io.BytesIO(text_pdf(*slides)))
    assert extracted.excluded == ()
    assert "Exercise 7" in extracted.note_text()


def test_a_line_repeated_on_two_pages_is_not_a_running_header():
    pdf = text_pdf(["Summary", "Cells are small."], ["Summary", "Tissues are bigger."], ["Organs work."])
    assert pdf_to_text(io.BytesIO(pdf)).excluded == ()


def test_bibliography_index_and_contents_pages_are_excluded():
    pdf = text_pdf(
        ["Cell Biology", "An introduction for first-year students."],
        [
            "Contents",
            "1 Cells ........ 3",
            "2 Membranes ........ 4",
            "3 Energy ........ 5",
            "Index ........ 7",
        ],
        ["Cells are the units of life.", "They come from other cells."],
        ["Membranes separate the inside from the outside.", "They are made of lipids."],
        [
            "Energy comes from ATP.",
            "References",
            "Alberts, B. et al. (2015). Molecular Biology of the Cell. Garland.",
            "Lodish, H. (2016). Molecular Cell Biology. W. H. Freeman.",
            "Nelson, D. (2017). Lehninger Principles of Biochemistry. doi:10.1000/xyz",
        ],
        ["Campbell, N. (2018). Biology. Pearson Press.", "Smith, J. (2020). Cells. J. Biol. 12, pp. 1-9."],
        ["Index", "ATP, 5", "cell, 3, 4", "lipid, 4", "membrane, 4-5", "mitochondria, 5, see also ATP"],
    )
    extracted = pdf_to_text(io.BytesIO(pdf))
    note = extracted.note_text()
    for kept in ("Cells are the units of life.", "Membranes separate", "Energy comes from ATP."):
        assert kept in note
    for gone in ("........", "Alberts", "Campbell", "Smith, J.", "mitochondria, 5", "References", "Contents"):
        assert gone in extracted.text and gone not in note
    assert extracted.title == "Cell Biology"


def test_a_reading_list_is_the_document_and_stays():
    entries = [f"Author {number}, A. ({2000 + number}). A book about cells. Press." for number in range(8)]
    pdf = text_pdf(["Reading list", "Read these before the exam."], ["References", *entries], entries)
    extracted = pdf_to_text(io.BytesIO(pdf))
    assert "Author 3" in extracted.note_text()


def test_the_title_is_the_metadata_title_when_it_means_something():
    pdf = text_pdf([("Big Heading", 28), "Body."], title="Photosynthesis and the Calvin cycle")
    assert pdf_to_text(io.BytesIO(pdf)).title == "Photosynthesis and the Calvin cycle"


@pytest.mark.parametrize("junk", ["Microsoft Word - doc1.docx", "untitled", "Presentation1", "", "main.tex"])
def test_the_title_is_the_largest_text_of_the_first_page_when_the_metadata_is_junk(junk):
    pdf = text_pdf(
        ["Course notes, week 3", ("Photosynthesis", 26), ("in C4 plants", 26), "Plants capture light."],
        ["Second page with a ", ("Larger Heading Elsewhere", 30)],
        title=junk,
    )
    assert pdf_to_text(io.BytesIO(pdf)).title == "Photosynthesis in C4 plants"


def test_without_a_larger_heading_the_title_is_the_first_short_line():
    pdf = text_pdf(["Enzyme kinetics", "Michaelis and Menten described the rate of reactions."])
    assert pdf_to_text(io.BytesIO(pdf)).title == "Enzyme kinetics"


def test_a_first_line_of_body_text_is_no_title():
    long_line = "Enzymes speed up reactions by lowering the activation energy of the transition state here."
    pdf = text_pdf([long_line + " And more.", "Second line."])
    assert pdf_to_text(io.BytesIO(pdf)).title == ""


def test_page_anchors_are_exact_and_skip_empty_pages():
    pdf = text_pdf(["First page text."], [], ["Third page text."])
    extracted = pdf_to_text(io.BytesIO(pdf))
    _assert_page_anchors(extracted, {1: "First page text.", 3: "Third page text."})
    assert extracted.anchor_at(extracted.text.index("Third")).page == 3


def test_pypdfs_warnings_are_logged_once_per_document_at_debug_level():
    contents = [zlib.compress(b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET")] * 6
    pdf = raw_pdf(contents).replace(
        b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 595 842] /MediaBox [0 0 9 9]"
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    pdf_logger = logging.getLogger("pipeline.extractors.pdf")
    pdf_logger.addHandler(handler)
    level = pdf_logger.level
    pdf_logger.setLevel(logging.DEBUG)
    try:
        assert pdf_to_text(io.BytesIO(pdf)).text.count("Hello") == 6
    finally:
        pdf_logger.removeHandler(handler)
        pdf_logger.setLevel(level)
    assert len(records) == 1
    assert records[0].levelno == logging.DEBUG
    assert "Multiple definitions" in records[0].getMessage()


# --- pasted text ------------------------------------------------------------------


def test_normalize_text_strips_control_characters_but_keeps_newlines_and_tabs():
    assert normalize_text("a\x00b\x07c\td\x1be\x7f") == "abc\tde"


def test_normalize_text_normalises_newlines_and_collapses_blank_lines():
    raw = "  \r\nTitle\r\n\r\n\r\n\r\n\r\nBody line\rsecond   \n\n\n\n\nEnd\n\n  "
    assert normalize_text(raw) == "Title\n\n\nBody line\nsecond\n\n\nEnd"


def test_normalize_text_of_nothing_is_empty():
    assert normalize_text("\x00 \n\t\n") == ""
