"""PDFs made for tests: ordinary ones with reportlab, hostile ones in raw PDF
syntax (a FlateDecode bomb, pages of operator runs), built without ever
holding their inflated content in this process."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

TEXT_START = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n"


def text_pdf(
    *pages: Sequence[str | tuple[str, float]],
    title: str | None = None,
    header: str | None = None,
    footer: str | None = None,
) -> bytes:
    """One page per argument; each line a string (12 pt) or ``(text, size)``.
    ``header`` and ``footer`` are drawn on every page, ``{page}`` replaced by
    its number. ``title`` sets the metadata title (reportlab's default is
    "untitled")."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    if title is not None:
        document.setTitle(title)
    for number, lines in enumerate(pages, start=1):
        if header is not None:
            document.setFont("Helvetica", 9)
            document.drawString(72, 810, header.format(page=number))
        y = 770
        for line in lines:
            text, size = (line, 12.0) if isinstance(line, str) else line
            document.setFont("Helvetica", size)
            document.drawString(72, y, text)
            y -= size * 1.4
        if footer is not None:
            document.setFont("Helvetica", 9)
            document.drawString(280, 30, footer.format(page=number))
        document.showPage()
    document.save()
    return buffer.getvalue()


def deflated_zeros(size: int, *, prefix: bytes = TEXT_START) -> bytes:
    """``prefix`` then ``size`` zero bytes, deflated a megabyte at a time."""
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(prefix)]
    chunk = bytes(1_000_000)
    for _ in range(size // len(chunk)):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(bytes(size % len(chunk))))
    parts.append(compressor.flush())
    return b"".join(parts)


def _to_unicode_cmap(mapping: dict[int, str]) -> bytes:
    pairs = b"\n".join(
        b"<%02X> <%s>" % (code, text.encode("utf-16-be").hex().upper().encode())
        for code, text in mapping.items()
    )
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Test def /CMapType 2 def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"%d beginbfchar\n%s\nendbfchar\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end" % (len(mapping), pairs)
    )


def raw_pdf(deflated_contents: Sequence[bytes], *, to_unicode: dict[int, str] | None = None) -> bytes:
    """A PDF whose pages have these (already deflated) content streams, each
    its own object, and a Helvetica font /F1 (whose codes in ``to_unicode``
    stand for those characters)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog, pages = add(b""), add(b"")
    font_entries = b"/Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"
    if to_unicode:
        cmap = _to_unicode_cmap(to_unicode)
        cmap_stream = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap))
        font_entries += b" /ToUnicode %d 0 R" % cmap_stream
    font = add(b"<< %s >>" % font_entries)
    kids = []
    for data in deflated_contents:
        stream = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages, font, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    references = b" ".join(b"%d 0 R" % kid for kid in kids)
    objects[pages - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (references, len(kids))
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def flate_bomb(*, pages: int = 40, inflated_bytes: int = 74_000_000) -> bytes:
    """Pages whose content streams each inflate to ``inflated_bytes`` (mostly
    zeros): 40 x 74 MB from a 2.9 MB file, as reported."""
    stream = deflated_zeros(inflated_bytes)
    return raw_pdf([stream] * pages)


def operator_runs(*, pages: int = 40, repeats: int = 150_000) -> bytes:
    """Pages of text-positioning operators, ``repeats`` x 10 tokens each."""
    content = b"BT /F1 12 Tf " + b"1 0 0 1 10 10 Tm 0 -1 Td " * repeats + b"(Hello) Tj ET"
    return raw_pdf([zlib.compress(content, 9)] * pages)
