"""A screen that asks twice shows the second answer, however the answers arrive."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, NetworkPool


def test_a_slow_earlier_answer_never_overwrites_a_later_one(qtbot: QtBot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    pool = NetworkPool(client=ApiClient("http://127.0.0.1:9"), workers=2)
    release_first = threading.Event()
    shown: list[str] = []

    def first(_api: ApiClient) -> str:
        release_first.wait(5)
        return "first"

    NetOp(first, pool=pool, owner=owner).latest("figures").success(shown.append).run()
    NetOp(lambda _api: "second", pool=pool, owner=owner).latest("figures").success(
        shown.append
    ).run()
    qtbot.waitUntil(lambda: shown == ["second"], timeout=5000)
    release_first.set()  # the first answer now arrives after the second
    qtbot.waitUntil(lambda: pool.pending == 0, timeout=5000)
    qtbot.wait(50)
    assert shown == ["second"]
    pool.close()


def test_calls_without_a_key_or_with_other_keys_all_answer(qtbot: QtBot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    pool = NetworkPool(client=ApiClient("http://127.0.0.1:9"), workers=2)
    shown: list[str] = []
    NetOp(lambda _api: "a", pool=pool, owner=owner).latest("one").success(shown.append).run()
    NetOp(lambda _api: "b", pool=pool, owner=owner).latest("two").success(shown.append).run()
    NetOp(lambda _api: "c", pool=pool, owner=owner).success(shown.append).run()
    qtbot.waitUntil(lambda: sorted(shown) == ["a", "b", "c"], timeout=5000)
    pool.close()
