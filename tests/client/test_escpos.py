"""ESC/POS bytes: exact commands, code page encoding and characters a page lacks."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_client.printing.escpos import (
    CODEPAGES,
    EscPosBuilder,
    encode_text,
    receipt_to_escpos,
    resolve_codepage,
    transliterate,
)
from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment, render_text

# Every command receipt_to_escpos emits, so a job can be turned back into its text lines.
_COMMANDS = re.compile(rb"\x1b@|\x1bt.|\x1bE.|\x1ba.|\x1d!.|\x1dV[AB].|\x1bp...", re.DOTALL)


def make_receipt(*, names: tuple[str, ...] = ("Tea",), method: str = "Cash") -> Receipt:
    """Build a small receipt with one line per name."""
    lines = tuple(
        ReceiptLine(
            name=n,
            quantity=Decimal("1"),
            unit="pc",
            unit_price=Decimal("10.00"),
            discount=Decimal("0"),
            total=Decimal("10.00"),
        )
        for n in names
    )
    total = Decimal("10.00") * len(names)
    return Receipt(
        shop_name="Corner Shop",
        branch_name="Main",
        address_lines=("1 High St",),
        receipt_number="R-1",
        issued_at=datetime(2024, 5, 1, 9, 30),
        cashier="Asha",
        lines=lines,
        subtotal=total,
        discount_total=Decimal("0"),
        tax_total=Decimal("0"),
        total=total,
        payments=(ReceiptPayment(method=method, amount=total),),
        change_due=Decimal("0"),
        customer=None,
        footer="Thanks",
    )


def job_lines(job: bytes, *, codec: str) -> list[str]:
    """Strip the commands from a job and decode its printed lines."""
    return _COMMANDS.sub(b"", job).decode(codec).split("\n")[:-1]


def test_initialize_codepage_and_cut_are_exact_bytes() -> None:
    assert EscPosBuilder().initialize().build() == b"\x1b@"
    assert EscPosBuilder().codepage("cp858").build() == b"\x1bt\x13"
    assert EscPosBuilder().codepage("cp866").build() == b"\x1bt\x11"
    assert EscPosBuilder().cut().build() == b"\x1dVA\x00"
    assert EscPosBuilder().cut(partial=True).build() == b"\x1dVB\x00"


def test_style_feed_and_drawer_commands_are_exact_bytes() -> None:
    job = (
        EscPosBuilder()
        .bold()
        .bold(False)
        .size(width=2, height=2)
        .size()
        .align("center")
        .align("right")
        .feed(3)
        .kick_drawer()
        .kick_drawer(pin=5, on_ms=100, off_ms=200)
        .build()
    )
    assert job == (
        b"\x1bE\x01\x1bE\x00"
        b"\x1d!\x11\x1d!\x00"
        b"\x1ba\x01\x1ba\x02"
        b"\x1bd\x03"
        b"\x1bp\x00\x19\xfa"
        b"\x1bp\x01\x32\x64"
    )


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("CP437", 0),
        ("cp850", 2),
        ("cp858", 19),
        ("cp866", 17),
        ("cp1252", 16),
        ("cp1251", 46),
        ("windows-1252", 16),
        ("latin2", 39),
    ],
)
def test_code_page_table_numbers(name: str, number: int) -> None:
    assert CODEPAGES[resolve_codepage(name)] == number
    assert EscPosBuilder().codepage(name).build() == b"\x1bt" + bytes([number])


def test_unknown_code_page_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="cp9999"):
        resolve_codepage("cp9999")


def test_receipt_job_starts_with_init_and_code_page_and_ends_with_cut() -> None:
    job = receipt_to_escpos(make_receipt(), codepage="cp858")
    assert job.startswith(b"\x1b@\x1bt\x13")
    assert job.endswith(b"\x1dVA\x00")
    assert b"\x1bp" not in job
    assert receipt_to_escpos(make_receipt(), open_drawer=True).startswith(
        b"\x1b@\x1bt\x13\x1bp\x00\x19\xfa"
    )


@pytest.mark.parametrize(
    ("text", "codepage", "expected"),
    [
        ("Crème brûlée", "cp858", b"Cr\x8ame br\x96l\x82e"),
        ("Crème brûlée", "cp1252", b"Cr\xe8me br\xfbl\xe9e"),
        ("Ünlü Çay", "cp858", b"\x9anl\x81 \x80ay"),
        ("Ünlü Çay", "cp857", b"\x9anl\x81 \x80ay"),
        ("Пельмени", "cp866", b"\x8f\xa5\xab\xec\xac\xa5\xad\xa8"),
        ("Пельмени", "cp1251", b"\xcf\xe5\xeb\xfc\xec\xe5\xed\xe8"),
        ("€ 5", "cp858", b"\xd5 5"),
    ],
)
def test_non_ascii_text_is_encoded_with_the_printer_code_page(
    text: str, codepage: str, expected: bytes
) -> None:
    assert encode_text(text, codepage=codepage) == expected


def test_receipt_names_reach_the_job_in_the_code_page() -> None:
    names = ("Crème brûlée", "Ünlü Çay", "Пельмени")
    job = receipt_to_escpos(make_receipt(names=names), codepage="cp866")
    assert job.startswith(b"\x1b@\x1bt\x11")
    assert "Пельмени".encode("cp866") in job
    # cp866 has no Latin accents: they fall back to their base letters.
    assert b"Creme brulee" in job
    assert b"Unlu Cay" in job
    job = receipt_to_escpos(make_receipt(names=names), codepage="cp858")
    assert "Crème brûlée".encode("cp858") in job
    assert "Ünlü Çay".encode("cp858") in job
    assert b"????????" in job


@pytest.mark.parametrize(
    ("text", "codepage", "expected"),
    [
        ("Пельмени", "cp858", "????????"),
        ("Straße", "cp866", "Strasse"),
        ("Œuf €2", "cp437", "OEuf EUR2"),
        ("ﬁle", "cp858", "file"),
        ("Łódź", "cp1252", "Lódz"),
        ("寿司 🍣", "cp858", "?? ?"),
        ("a\tb", "cp858", "a b"),
    ],
)
def test_missing_characters_become_ascii_or_question_marks(
    text: str, codepage: str, expected: str
) -> None:
    assert transliterate(text, codepage=codepage) == expected
    assert encode_text(text, codepage=codepage) == expected.encode(codepage)


def test_control_characters_in_text_never_reach_the_printer() -> None:
    # A product named with ESC p would otherwise kick the drawer when its receipt prints.
    job = EscPosBuilder().text("Tea\x1bp\x00\x19\x7f").build()
    assert job == b"Tea?p???"


@given(text=st.text(), codepage=st.sampled_from(sorted(CODEPAGES)))
def test_any_text_encodes_without_error_or_stray_control_bytes(text: str, codepage: str) -> None:
    encoded = encode_text(text, codepage=codepage)
    assert not (set(encoded) & (set(range(0x20)) - {0x0A}))


def test_fallbacks_that_change_length_keep_amounts_right_aligned() -> None:
    receipt = make_receipt(names=("Straße",), method="Gutschein €")
    width = 42
    lines = job_lines(receipt_to_escpos(receipt, codepage="cp866", width=width), codec="cp866")
    payment = next(line for line in lines if line.startswith("Gutschein"))
    assert payment == "Gutschein EUR" + " " * 24 + "10.00"
    assert len(payment) == width
    assert "Strasse" in lines
    assert all(len(line) <= width for line in lines)


def test_job_text_matches_the_plain_text_layout() -> None:
    receipt = make_receipt(names=("Tea", "Coffee"))
    lines = job_lines(receipt_to_escpos(receipt, codepage="cp858"), codec="cp858")
    # The shop name is printed at double size, centred by the printer instead of by spaces.
    expected = render_text(receipt)
    assert lines[0] == expected[0].strip()
    assert lines[1:] == expected[1:]
