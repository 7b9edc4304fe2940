"""How a wrong till clock is put in words, for the cashier and the manager alike."""

from __future__ import annotations

import pytest

from common.clock import describe_skew


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-3 * 86400 - 7200, "3 days 2 hours behind"),
        (2 * 86400 - 0.7, "2 days ahead of"),  # measured a moment after it was sent
        (86400 + 59, "1 day 1 minute ahead of"),
        (-400, "7 minutes behind"),
        (45, "45 seconds ahead of"),
        (-3600, "1 hour behind"),
    ],
)
def test_a_skew_reads_as_people_say_it(seconds, words):
    assert describe_skew(seconds) == words
