"""The dashboard's "today's sales" is the net figure the charts and reports show."""

from __future__ import annotations

from datetime import date

import pytest
from pytestqt.qtbot import QtBot

from common.roles import Permission
from pos_client.api.client import ApiClient
from pos_client.ui.manager.dashboard import TODAY, load_dashboard
from tests.factories import PASSWORD, World
from tests.server.test_reports_ops import till_world  # noqa: F401, F811 - a fixture
from tests.ui.manager_support import TIMEOUT


@pytest.mark.usefixtures("till_world")
def test_todays_sales_is_net_of_returns_with_gross_labelled(
    open_window, qtbot: QtBot, world: World, live_server
) -> None:
    # 2 March 2026 at MAIN: sales 58.00, one return of 10.00 (tests/server/test_reports_ops.py).
    api = ApiClient(live_server.url)
    try:
        api.login(username="admin", password=PASSWORD)
        data = load_dashboard(api, can={Permission.REPORTS_READ.value}, today=date(2026, 3, 2))
    finally:
        api.close()
    assert data["cards"][TODAY] == "₹48.00"
    assert data["details"][TODAY] == "Gross ₹58.00 − returns ₹10.00"
    trend = data["charts"]["trend"]
    (day,) = [r for r in trend["rows"] if r["period"] == "2026-03-02"]
    assert day["revenue"] == "48.00"  # the chart beside the card shows the same figure

    window = open_window("admin", start="dashboard")
    page = window.pages["dashboard"]
    card = page.cards[TODAY]
    page.today = lambda: date(2026, 3, 2)
    page.refresh()
    qtbot.waitUntil(lambda: card.value.text() == "₹48.00", timeout=TIMEOUT)
    assert card.detail.isVisible() and card.detail.text() == "Gross ₹58.00 − returns ₹10.00"
