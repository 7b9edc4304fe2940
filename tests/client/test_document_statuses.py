"""Every document status the server knows can be filtered for in the back office."""

from __future__ import annotations

from common.schemas import orders, purchasing, wholesale
from pos_client.ui.manager import sales


def test_every_order_and_request_status_has_a_filter_and_a_label():
    order_filters = [value for _label, value in sales.ORDER_STATUSES if value]
    assert order_filters == list(orders.ORDER_STATUSES)
    request_filters = [value for _label, value in sales.REQUEST_STATUSES if value]
    assert request_filters == list(wholesale.REQUEST_STATUSES)
    # The filter's Literal on the server is the same list (a 422 for anything else).
    assert list(orders.OrderStatusName.__args__) == list(orders.ORDER_STATUSES)


def test_every_step_starts_from_statuses_that_exist():
    for table, known in (
        (orders.ALLOWED_FROM, set(orders.ORDER_STATUSES)),
        (wholesale.ALLOWED_FROM, set(wholesale.REQUEST_STATUSES)),
    ):
        for step, allowed in table.items():
            assert allowed and allowed <= known, step
    assert {step for _a, _t, step in sales.ORDER_STEPS} <= set(orders.ALLOWED_FROM)
    assert purchasing.ALLOWED_FROM["approve"] == {purchasing.PENDING}
