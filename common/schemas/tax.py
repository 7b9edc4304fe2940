"""Tax classes on the wire: a GST rate (split by the server) or explicit components."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from common.schemas.base import Percent, ReadSchema, Schema
from common.tax import Scope


class ComponentIn(Schema):
    code: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z][A-Z0-9]*$")
    rate: Percent
    scope: Scope = Scope.ALWAYS


class RateSetIn(Schema):
    effective_from: date = date(2000, 1, 1)
    # Either a GST rate (CGST+SGST halves intra-state, IGST inter-state, optional cess) ...
    gst_rate: Percent | None = None
    cess: Percent = Field(default=0)
    # ... or the components themselves (a VAT country: one component for every supply).
    components: list[ComponentIn] | None = Field(default=None, min_length=1, max_length=8)

    @model_validator(mode="after")
    def _one_way(self) -> RateSetIn:
        if (self.gst_rate is None) == (self.components is None):
            raise ValueError("give either gst_rate or components, not both and not neither")
        return self


class TaxClassCreate(Schema):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=120)
    rates: list[RateSetIn] = Field(min_length=1, max_length=50)


class TaxClassRead(ReadSchema):
    id: int
    code: str
    name: str
    rates: list[dict[str, object]]
    active: bool
