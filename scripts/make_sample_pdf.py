#!/usr/bin/env python
"""Build samples/lecture.pdf from samples/lecture.md with reportlab.

Usage: python scripts/make_sample_pdf.py [SOURCE.md] [OUTPUT.pdf]

Understands the little Markdown the sample uses: a "# " title, "## "
headings and paragraphs (wrapped lines are joined). The output is
reproducible: the same Markdown gives the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "samples" / "lecture.md"
DEFAULT_OUTPUT = ROOT / "samples" / "lecture.pdf"


def _flowables(markdown: str) -> tuple[str, list]:
    styles = getSampleStyleSheet()
    title_style = ParagraphStyle("LectureTitle", parent=styles["Title"], fontName="Helvetica-Bold")
    heading_style = ParagraphStyle(
        "LectureHeading", parent=styles["Heading2"], fontName="Helvetica-Bold", spaceBefore=10
    )
    body_style = ParagraphStyle("LectureBody", parent=styles["BodyText"], fontSize=10.5, leading=14.5)
    title = "Lecture"
    story: list = []
    for block in markdown.replace("\r\n", "\n").split("\n\n"):
        block = " ".join(line.strip() for line in block.strip().split("\n"))
        if not block:
            continue
        if block.startswith("# "):
            title = block[2:].strip()
            story.append(Paragraph(escape(title), title_style))
        elif block.startswith("## "):
            story.append(Paragraph(escape(block[3:].strip()), heading_style))
        else:
            story.append(Paragraph(escape(block), body_style))
            story.append(Spacer(1, 4))
    return title, story


def build(source: Path = DEFAULT_SOURCE, output: Path = DEFAULT_OUTPUT) -> Path:
    title, story = _flowables(source.read_text(encoding="utf-8"))
    document = SimpleDocTemplate(
        str(output),
        pagesize=A4,
        leftMargin=2.2 * cm,
        rightMargin=2.2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=title,
        author="Studynaut samples",
        invariant=1,
    )
    document.build(story)
    return output


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    path = build(source, output)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
