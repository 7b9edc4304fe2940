"""Render a titled, tabular business document to PDF bytes with reportlab."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

PDF_MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True, slots=True)
class Document:
    """What a printable document says: header facts, one table, totals underneath."""

    title: str
    subtitle: str = ""
    facts: Sequence[tuple[str, str]] = ()
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    totals: Sequence[tuple[str, str]] = ()
    # Columns (by index) that hold numbers and so align right.
    numeric: frozenset[int] = field(default_factory=frozenset)
    # The total in words, under the totals (tax invoices state it).
    words: str = ""
    footer: str = ""


def render(document: Document) -> bytes:
    """Return the document as PDF bytes (A4, paged, header row repeated on each page)."""
    # Imported here, not at the top: every server start imports this module (the routes
    # name its media type) and reportlab costs ~60 ms of CPU to import; few processes print.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Flowable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=document.title,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    story: list[Flowable] = [Paragraph(_escape(document.title), styles["Title"])]
    if document.subtitle:
        story.append(Paragraph(_escape(document.subtitle), styles["Heading3"]))
    if document.facts:
        facts = Table([[k, v] for k, v in document.facts], hAlign="LEFT")
        facts.setStyle(TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold")]))
        story += [facts, Spacer(1, 6 * mm)]
    if document.columns:
        data = [list(document.columns), *[list(r) for r in document.rows]]
        table = Table(data, repeatRows=1, hAlign="LEFT")
        style = [
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        style += [("ALIGN", (i, 0), (i, -1), "RIGHT") for i in document.numeric]
        table.setStyle(TableStyle(style))
        story += [table, Spacer(1, 4 * mm)]
    if document.totals:
        totals = Table([[k, v] for k, v in document.totals], hAlign="RIGHT")
        totals.setStyle(
            TableStyle(
                [
                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ]
            )
        )
        story.append(totals)
    if document.words:
        story += [Spacer(1, 3 * mm), Paragraph(_escape(document.words), styles["Normal"])]
    if document.footer:
        story += [Spacer(1, 8 * mm), Paragraph(_escape(document.footer), styles["Normal"])]
    pdf.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    # Paragraph parses a little markup; user text must not be read as tags.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
