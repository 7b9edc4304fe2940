"""PUT /settings/{key} validates against the settings model: problem+json 422, nothing changed."""

from __future__ import annotations

import pytest

from common.tenant_settings import defaults


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("order_reservation_minutes", 0, "must be 1 to 10080"),
        ("order_reservation_minutes", "15", "takes a whole number"),
        ("till_max_discount_percent", "250", "must be 0 to 100"),
        ("currency", "", "3 capital letters"),
        ("po_admin_approval_threshold", 99.99, "decimal number as text"),
    ],
)
def test_a_bad_value_is_a_422_problem_and_changes_nothing(api, key, value, words):
    refused = api.put(f"settings/{key}", json={"value": value})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert words in refused.json()["detail"]
    assert api.get("settings").json()[key] == defaults()[key]


def test_a_good_value_is_saved_and_read_back(api):
    saved = api.put("settings/order_reservation_minutes", json={"value": 45})
    assert saved.status_code == 200, saved.text
    assert api.get("settings").json()["order_reservation_minutes"] == 45
    saved = api.put("settings/po_admin_approval_threshold", json={"value": "50000"})
    assert saved.json()["value"] == "50000.00"


def test_an_unknown_setting_is_404_and_names_the_real_ones(api):
    missing = api.put("settings/reservation_minutes", json={"value": 5})
    assert missing.status_code == 404
    assert "order_reservation_minutes" in missing.json()["detail"]


def test_listing_gives_every_setting_of_the_model(api):
    assert set(api.get("settings").json()) == set(defaults())
