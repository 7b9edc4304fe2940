"""The one settings model: its README table, and what it accepts and refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.tenant_settings import (
    SettingRefused,
    TenantSettings,
    defaults,
    markdown_table,
    validate_setting,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting_as_the_model_says():
    text = README.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- settings table:[^\n]*-->\n(.*?)\n<!-- end of settings table -->", text, re.S
    )
    assert found, "README.md lost its settings table markers"
    assert found.group(1) == markdown_table(), "regenerate: python -m common.tenant_settings"


def test_every_setting_has_a_meaning_and_a_valid_default():
    for key, field in TenantSettings.model_fields.items():
        assert field.description and len(field.description) > 20, key
        assert validate_setting(key, defaults()[key]) == defaults()[key]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("order_reservation_minutes", 0, "1 to 10080"),
        ("order_reservation_minutes", -5, "1 to 10080"),
        ("order_reservation_minutes", 10081, "1 to 10080"),
        ("order_reservation_minutes", "30", "whole number"),
        ("order_reservation_minutes", 2.5, "whole number"),
        ("currency", "rupees", "3 capital letters"),
        ("po_admin_approval_threshold", "-1", "0 or more"),
        ("po_admin_approval_threshold", 5000.5, "decimal number as text"),
        ("po_admin_approval_threshold", "lots", "0 or more"),
        ("till_max_discount_percent", "101", "0 to 100"),
        ("till_max_discount_percent", "NaN", "0 to 100"),
        ("stock_in_on_approval", "yes", "true or false"),
        ("stock_in_on_approval", 1, "true or false"),
        ("receipt_footer", "x" * 201, "up to 200 characters"),
        ("low_stock_sms_to", ["+91 98000 00001"], "takes text"),
    ],
)
def test_out_of_range_or_wrong_type_is_refused_in_words(key, value, words):
    with pytest.raises(SettingRefused, match=re.escape(words)):
        validate_setting(key, value)


def test_good_values_are_kept_in_their_wire_form():
    assert validate_setting("order_reservation_minutes", 1) == 1
    assert validate_setting("po_admin_approval_threshold", "2500.5") == "2500.50"
    assert validate_setting("po_admin_approval_threshold", 2500) == "2500.00"
    assert validate_setting("till_max_discount_percent", "12.50") == "12.5"
    assert validate_setting("currency", "USD") == "USD"
