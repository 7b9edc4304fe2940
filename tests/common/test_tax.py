"""Tax: components, place of supply, inclusive/exclusive round trip, credit notes net to zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.money import round_money
from common.tax import (
    Component,
    LineTax,
    RateSet,
    Scope,
    Supply,
    TaxClass,
    credit_line,
    document_totals,
    gst_class,
    gst_components,
    gstin_check_char,
    gstin_problem,
    single_class,
    supply_kind,
    tax_exclusive,
    tax_inclusive,
    tax_line,
)

DAY = date(2026, 12, 4)
GST_RATES = [Decimal(r) for r in ("0", "0.25", "3", "5", "12", "18", "28")]

amounts = st.decimals(min_value=0, max_value=10**7, places=2)
rates = st.sampled_from(GST_RATES)
cesses = st.sampled_from([Decimal("0"), Decimal("1"), Decimal("12"), Decimal("22")])
supplies = st.sampled_from(list(Supply))


def _components(rate: Decimal, cess: Decimal, supply: Supply) -> tuple[Component, ...]:
    return tuple(c for c in gst_components(rate, cess=cess) if c.applies(supply))


@given(amount=amounts, rate=rates, cess=cesses, supply=supplies, inclusive=st.booleans())
def test_components_sum_to_the_tax_and_value_plus_tax_is_the_total(
    amount, rate, cess, supply, inclusive
):
    line = tax_line(
        amount, tax_class=gst_class(rate, cess=cess), day=DAY, supply=supply, inclusive=inclusive
    )
    assert line.tax == sum(c.amount for c in line.components)
    assert line.total == line.taxable + line.tax
    for c in line.components:
        assert c.amount == round_money(c.amount)  # every component is in whole paise
    if inclusive:
        assert line.total == amount  # the shelf price is what the buyer pays
    else:
        assert line.taxable == amount


@given(amount=amounts, rate=rates, cess=cesses, supply=supplies)
def test_exclusive_price_round_trips_through_its_inclusive_gross(amount, rate, cess, supply):
    components = _components(rate, cess, supply)
    exclusive = tax_exclusive(amount, components=components)
    inclusive = tax_inclusive(exclusive.total, components=components)
    assert inclusive == exclusive


@given(gross=amounts, rate=rates, cess=cesses, supply=supplies)
def test_inclusive_price_round_trips_through_its_taxable_value(gross, rate, cess, supply):
    components = _components(rate, cess, supply)
    inclusive = tax_inclusive(gross, components=components)
    assert inclusive.total == gross
    again = tax_exclusive(inclusive.taxable, components=components)
    # Where rounding skips a paisa the leftover is shared out; never more than that.
    assert abs(again.total - gross) <= Decimal("0.01") * len(components)
    for exact, shared in zip(again.components, inclusive.components, strict=True):
        assert abs(exact.amount - shared.amount) <= Decimal("0.01") * len(components)
    assert tax_inclusive(again.total, components=components) == again


@given(amount=amounts, rate=rates)
def test_intra_state_splits_cgst_and_sgst_evenly_and_inter_state_charges_igst(amount, rate):
    tax_class = gst_class(rate)
    intra = tax_line(amount, tax_class=tax_class, day=DAY, supply=Supply.INTRA, inclusive=False)
    inter = tax_line(amount, tax_class=tax_class, day=DAY, supply=Supply.INTER, inclusive=False)
    assert [c.code for c in intra.components] == ["CGST", "SGST"]
    assert [c.code for c in inter.components] == ["IGST"]
    cgst, sgst = intra.components
    assert cgst.amount == sgst.amount and cgst.rate + sgst.rate == rate
    # The same holds for tax-inclusive prices, even where rounding skips a paisa.
    shelf = tax_line(amount, tax_class=tax_class, day=DAY, supply=Supply.INTRA, inclusive=True)
    assert shelf.components[0].amount == shelf.components[1].amount
    assert shelf.total == amount
    # IGST is one rounding of the whole rate; the halves are rounded each: at most a paisa apart.
    assert abs(intra.tax - inter.tax) <= Decimal("0.01")


@settings(max_examples=200)
@given(
    lines=st.lists(
        st.tuples(amounts, rates, st.integers(min_value=1, max_value=12)), min_size=1, max_size=8
    ),
    supply=supplies,
    inclusive=st.booleans(),
    data=st.data(),
)
def test_credit_notes_for_a_full_return_net_the_invoice_to_zero(lines, supply, inclusive, data):
    invoice = [
        (
            tax_line(a, tax_class=gst_class(r), day=DAY, supply=supply, inclusive=inclusive),
            Decimal(q),
        )
        for a, r, q in lines
    ]
    credits: list[LineTax] = []
    for original, sold in invoice:
        # Returned in one go or in several parts, the parts chosen by Hypothesis.
        done = Decimal(0)
        credited = LineTax(taxable=Decimal(0))
        while done < sold:
            part = Decimal(data.draw(st.integers(min_value=1, max_value=int(sold - done))))
            note = credit_line(
                original, sold=sold, returned=part, returned_before=done, credited_before=credited
            )
            assert note.tax == sum(c.amount for c in note.components)
            credits.append(note)
            credited = LineTax(
                taxable=credited.taxable + note.taxable,
                components=note.components
                if not credited.components
                else tuple(
                    type(c)(c.code, c.rate, c.amount + n.amount)
                    for c, n in zip(credited.components, note.components, strict=True)
                ),
            )
            done += part
    totals = document_totals([line for line, _ in invoice] + credits)
    assert totals.taxable == 0 and totals.tax == 0 and totals.total == 0
    assert all(row.amount == 0 and row.taxable == 0 for row in totals.breakdown)


@given(lines=st.lists(st.tuples(amounts, rates), min_size=1, max_size=20), supply=supplies)
def test_a_receipt_and_an_invoice_for_one_cart_have_one_total(lines, supply):
    taxed = [
        tax_line(a, tax_class=gst_class(r), day=DAY, supply=supply, inclusive=True)
        for a, r in lines
    ]
    receipt = document_totals(taxed)
    invoice = document_totals(list(reversed(taxed)))
    assert receipt == invoice or receipt.breakdown == invoice.breakdown
    assert receipt.total == invoice.total == sum(a for a, _ in lines)
    assert sum(row.amount for row in receipt.breakdown) == receipt.tax


def test_the_known_peer_difference_cannot_happen():
    # Three lines at 5% whose unrounded tax sums would round differently per document.
    tax_class = gst_class("5")
    lines = [
        tax_line(Decimal("3.78"), tax_class=tax_class, day=DAY, inclusive=True) for _ in range(3)
    ]
    totals = document_totals(lines)
    assert totals.total == Decimal("11.34")
    assert totals.taxable + totals.tax == totals.total


def test_a_worked_example_matches_a_gst_invoice():
    line = tax_line(
        Decimal("1000"), tax_class=gst_class("18"), day=DAY, supply=Supply.INTRA, inclusive=False
    )
    assert [(c.code, c.rate, c.amount) for c in line.components] == [
        ("CGST", Decimal("9"), Decimal("90.00")),
        ("SGST", Decimal("9"), Decimal("90.00")),
    ]
    inclusive = tax_line(Decimal("118"), tax_class=gst_class("18"), day=DAY)
    assert inclusive.taxable == Decimal("100.00") and inclusive.tax == Decimal("18.00")
    inter = tax_line(Decimal("118"), tax_class=gst_class("18"), day=DAY, supply=Supply.INTER)
    assert [(c.code, c.amount) for c in inter.components] == [("IGST", Decimal("18.00"))]


def test_rates_change_on_their_effective_date():
    tax_class = TaxClass(
        code="APPAREL",
        name="Apparel",
        rates=(
            RateSet(date(2017, 7, 1), gst_components("5")),
            RateSet(date(2026, 1, 1), gst_components("12")),
        ),
    )
    assert tax_class.rate_on(day=date(2025, 12, 31)) == Decimal("5")
    assert tax_class.rate_on(day=date(2026, 1, 1)) == Decimal("12")
    assert tax_class.rate_on(day=date(2017, 6, 30)) == Decimal("0")


def test_a_vat_class_has_one_component_whatever_the_supply():
    vat = single_class("20", component="VAT")
    for supply in Supply:
        line = tax_line(Decimal("120"), tax_class=vat, day=DAY, supply=supply)
        assert [(c.code, c.amount) for c in line.components] == [("VAT", Decimal("20.00"))]
    assert vat.components_on(day=DAY)[0].scope == Scope.ALWAYS


def test_place_of_supply():
    assert supply_kind(seller_state="27", buyer_state="27") == Supply.INTRA
    assert supply_kind(seller_state="27", buyer_state="29") == Supply.INTER
    assert supply_kind(seller_state="27", buyer_state="") == Supply.INTRA  # walk-in
    assert supply_kind(seller_state="", buyer_state="29") == Supply.INTRA  # VAT country


def test_gstin_check():
    body = "27AAPFU0939F1Z"
    good = body + gstin_check_char(body)
    assert good == "27AAPFU0939F1ZV"
    assert gstin_problem(good) is None
    assert "15 characters" in (gstin_problem("27AAPFU") or "")
    assert "state code" in (gstin_problem("99" + good[2:]) or "")
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert "check digit" in (gstin_problem(wrong) or "")


def test_a_gross_no_taxable_value_reaches_keeps_cgst_and_sgst_equal():
    # 16.94 taxable gives 19.98 and 16.95 gives 20.01: 20.00 is between them.
    line = tax_line(Decimal("20.00"), tax_class=gst_class("18"), day=DAY)
    assert [(c.code, c.amount) for c in line.components] == [
        ("CGST", Decimal("1.53")),
        ("SGST", Decimal("1.53")),
    ]
    assert line.taxable == Decimal("16.94") and line.total == Decimal("20.00")


def test_where_no_value_reaches_the_gross_the_tax_is_the_nearest_to_exact():
    # 649 at 5%: 618.09 gives 648.99 and 618.10 gives 649.01; the tax inside is 30.9048.
    line = tax_line(Decimal("649"), tax_class=single_class("5"), day=DAY)
    assert (line.taxable, line.tax) == (Decimal("618.10"), Decimal("30.90"))


def test_refunds_of_negative_amounts_mirror_sales():
    sale = tax_line(Decimal("99.99"), tax_class=gst_class("12"), day=DAY)
    refund = tax_line(Decimal("-99.99"), tax_class=gst_class("12"), day=DAY)
    assert refund == sale.negated()


def test_wire_form_round_trips():
    line = tax_line(Decimal("250"), tax_class=gst_class("28", cess="12"), day=DAY)
    assert LineTax.from_wire(line.to_wire()) == line


def test_more_returned_than_sold_is_refused():
    line = tax_line(Decimal("10"), tax_class=gst_class("5"), day=DAY)
    with pytest.raises(ValueError):
        credit_line(line, sold=Decimal(2), returned=Decimal(3))
