"""The manager screens' stylesheet: the till's palette and type, plus a few back-office parts."""

from __future__ import annotations

from importlib import resources

MANAGER_QSS = """
#ManagerWindow { background: #eef2f5; }
#NavList {
    background: #12263a; border: none; padding-top: 8px; min-width: 190px; max-width: 220px;
}
#NavList { outline: 0; }
#NavList::item { color: #c7d5e3; padding: 10px 16px; border-radius: 6px; margin: 2px 8px; }
#NavList::item:selected { background: #2ec4b6; color: #0b1d2c; font-weight: bold; }
#NavList::item:hover:!selected { background: #1d3a55; }
#NavBrand {
    background: #12263a; color: #ffffff; font-size: 20px; font-weight: bold;
    padding: 14px 16px 4px 16px;
}
#NavUser { background: #12263a; color: #8fa8c0; font-size: 13px; padding: 0 16px 12px 16px; }
#ScreenTitle { font-size: 24px; font-weight: bold; color: #12263a; padding: 4px 0 8px 0; }
#Banner { background: #a61b1b; color: #ffffff; font-weight: bold; padding: 8px 14px; }
#EmptyState {
    background: #ffffff; border: 2px dashed #cbd2d9; border-radius: 12px;
    color: #627d98; font-size: 16px; padding: 40px;
}
#PageStatus { color: #0b6e64; font-size: 14px; }
#PagerInfo { color: #627d98; font-size: 14px; }
#LoadProgress { border: none; background: #d9e2ec; }
#LoadProgress::chunk { background: #2ec4b6; }
#SummaryCard { background: #ffffff; border: 1px solid #d9e2ec; border-radius: 12px; }
#CardValue { font-size: 26px; font-weight: bold; color: #12263a; }
#CardLabel { font-size: 13px; color: #627d98; font-weight: bold; }
#VerifyOk { color: #0b6e64; font-weight: bold; }
#VerifyBroken { color: #a61b1b; font-weight: bold; }
QTabWidget::pane { border: 1px solid #d9e2ec; border-radius: 8px; background: #ffffff; }
QTabBar::tab {
    padding: 8px 18px; background: #e4e7eb; margin-right: 2px;
    border-top-left-radius: 6px; border-top-right-radius: 6px;
}
QTabBar::tab:selected { background: #ffffff; color: #0b6e64; font-weight: bold; }
QTableView { gridline-color: #e4e7eb; alternate-background-color: #f7f9fb; }
QLineEdit, QComboBox { font-size: 15px; padding: 6px 8px; }
QPushButton { padding: 8px 14px; font-size: 14px; }
"""


def manager_stylesheet() -> str:
    """Return the till's stylesheet followed by the manager additions."""
    till = resources.files("pos_client").joinpath("resources", "till.qss").read_text("utf-8")
    return till + "\n" + MANAGER_QSS
