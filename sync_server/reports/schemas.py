"""The JSON shape every report shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ReportColumnRead(BaseModel):
    key: str
    label: str
    # text | int | money | qty | ratio | date: money and quantities travel as strings.
    kind: str


class ReportRead(BaseModel):
    report: str
    title: str
    generated_at: str
    filters: dict[str, Any]
    columns: list[ReportColumnRead]
    rows: list[dict[str, Any]]
    notes: list[str]
