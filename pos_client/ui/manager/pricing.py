"""Promotions: create or schedule them, preview what a cart would cost, end them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from common.pricing.rules import PromoKind
from common.roles import Permission
from common.schemas.pricing import PreviewIn, PreviewRead, RuleRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customer_dialogs import schema_errors
from pos_client.ui.manager.table import Column, as_when
from pos_client.ui.manager.widgets import ActionBar, ServerTable, button, choice, heading

KINDS = [
    ("% off items", PromoKind.PERCENT_OFF),
    ("Amount off each item", PromoKind.AMOUNT_OFF),
    ("Fixed promotional price", PromoKind.FIXED_PRICE),
    ("Buy X get Y", PromoKind.BUY_X_GET_Y),
    ("Any N for a price", PromoKind.BUNDLE),
    ("% off the basket", PromoKind.BASKET_PERCENT),
    ("Amount off the basket", PromoKind.BASKET_AMOUNT),
]


def _ids(text: str, what: str) -> list[int]:
    """Read comma-separated ids typed by a manager."""
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(f"{what}: give numbers separated by commas") from None


def _summary(spec: Any) -> str:
    if not isinstance(spec, dict):
        return ""
    window = spec.get("window") or {}
    parts = [str(spec.get("kind", "")).replace("_", " ")]
    for key in ("percent", "amount", "price"):
        if spec.get(key) not in (None, "0", "0.00"):
            parts.append(f"{key} {spec[key]}")
    if window.get("time_from") or window.get("time_to"):
        parts.append(f"{window.get('time_from') or ''}–{window.get('time_to') or ''}")
    if window.get("valid_from") or window.get("valid_to"):
        parts.append(f"{window.get('valid_from') or '…'} → {window.get('valid_to') or '…'}")
    if spec.get("coupon_code"):
        parts.append(f"coupon {spec['coupon_code']}")
    return ", ".join(parts)


class PromotionsPage(QWidget):
    """Live and ended promotions; a form to create one and a cart preview."""

    title = "Promotions"
    table: ServerTable  # made below the filter that reloads it

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.status_filter = choice([("Live", True), ("Ended", False), ("All", None)])
        self.status_filter.currentIndexChanged.connect(lambda _: self.table.reload())
        self.table = ServerTable(
            ctx=ctx,
            columns=[
                Column("name", "Promotion"),
                Column("active", "Status", lambda v: "Live" if v else "Ended", status=True),
                Column("spec", "What", _summary),
                Column("created_at", "Created", as_when),
                Column("ended_at", "Ended", as_when),
            ],
            fetch=lambda api, offset, limit: api.promotions(
                active=self.status_filter.currentData(), offset=offset, limit=limit
            ),
            empty_text="No promotions here.",
        )
        writer = ctx.can(Permission.PRICES_WRITE)
        bar = ActionBar()
        bar.addWidget(self.status_filter)
        bar.addStretch(1)
        self.end_button = bar.add(button("End now", name="EndPromotion"), allowed=writer)
        self.end_button.clicked.connect(self.end_selected)

        self.name = QLineEdit()

        self.name.setObjectName("PromotionName")
        self.kind = QComboBox()
        self.kind.setObjectName("PromotionKind")
        for label, kind in KINDS:
            self.kind.addItem(label, kind.value)
        self.value = QLineEdit()
        self.value.setObjectName("PromotionValue")
        self.value.setPlaceholderText("percent, amount or price")
        self.products = QLineEdit()
        self.products.setObjectName("PromotionProducts")
        self.products.setPlaceholderText("product ids, e.g. 12, 14 (empty: everything)")
        self.buy = QSpinBox()
        self.buy.setObjectName("PromotionBuy")
        self.get = QSpinBox()
        self.get.setObjectName("PromotionGet")
        self.starts = QLineEdit()
        self.starts.setObjectName("PromotionStarts")
        self.starts.setPlaceholderText("2026-12-24T09:00+05:30 (empty: now)")
        self.ends = QLineEdit()
        self.ends.setObjectName("PromotionEnds")
        self.ends.setPlaceholderText("empty: until ended")
        self.hours = QLineEdit()
        self.hours.setObjectName("PromotionHours")
        self.hours.setPlaceholderText("17:00-19:00 (empty: all day)")
        # Two short columns, so the screen still fits a laptop's 768 pixels.
        left, right = QFormLayout(), QFormLayout()
        left.addRow("Name", self.name)
        left.addRow("Kind", self.kind)
        left.addRow("Value", self.value)
        left.addRow("Products", self.products)
        buy_get = QHBoxLayout()
        buy_get.addWidget(self.buy)
        buy_get.addWidget(QLabel("get"))
        buy_get.addWidget(self.get)
        right.addRow("Buy (or bundle of)", buy_get)
        right.addRow("Starts", self.starts)
        right.addRow("Ends", self.ends)
        right.addRow("Hours", self.hours)
        form = QHBoxLayout()
        form.addLayout(left, 1)
        form.addLayout(right, 1)
        self.create_button = button("Create", role="primary", name="CreatePromotion")
        self.create_button.clicked.connect(self.create_promotion)
        self.create_button.setVisible(writer)

        self.preview_cart = QLineEdit()

        self.preview_cart.setObjectName("PreviewCart")
        self.preview_cart.setPlaceholderText("product id x quantity, e.g. 12x3, 14x1")
        self.preview_button = button("What would it cost?", name="PreviewCartButton")
        self.preview_button.clicked.connect(self.preview)
        self.preview_result = QLabel("")
        self.preview_result.setObjectName("PreviewResult")
        self.preview_result.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        if writer:
            layout.addLayout(form)
            layout.addWidget(self.create_button)
        preview = QHBoxLayout()
        preview.addWidget(self.preview_cart, 1)
        preview.addWidget(self.preview_button)
        layout.addLayout(preview)
        layout.addWidget(self.preview_result)

    def refresh(self) -> None:
        """Reload the promotions."""
        self.table.reload(keep_page=True)

    def body(self) -> dict[str, Any]:
        """Return the promotion the form describes, or raise ValueError with what to fix."""
        name = self.name.text().strip()
        if not name:
            raise ValueError("Give the promotion a name.")
        kind = PromoKind(self.kind.currentData())
        body: dict[str, Any] = {
            "name": name,
            "kind": kind.value,
            "product_ids": _ids(self.products.text(), "Products"),
        }
        value = self.value.text().strip().replace(",", "")
        if kind in (PromoKind.PERCENT_OFF, PromoKind.BASKET_PERCENT):
            body["percent"] = value
        elif kind in (PromoKind.AMOUNT_OFF, PromoKind.BASKET_AMOUNT):
            body["amount"] = value
        elif kind in (PromoKind.FIXED_PRICE, PromoKind.BUNDLE):
            body["price"] = value
        if kind == PromoKind.BUY_X_GET_Y:
            body["buy_qty"], body["get_qty"] = self.buy.value(), self.get.value()
        if kind == PromoKind.BUNDLE:
            body["bundle_qty"] = self.buy.value()
        window: dict[str, Any] = {}
        if self.starts.text().strip():
            window["valid_from"] = self.starts.text().strip()
        if self.ends.text().strip():
            window["valid_to"] = self.ends.text().strip()
        hours = self.hours.text().strip()
        if hours:
            start, sep, end = hours.partition("-")
            if not sep:
                raise ValueError("Hours: write them as 17:00-19:00.")
            window["time_from"], window["time_to"] = start.strip(), end.strip()
        if window:
            body["window"] = window
        return body

    def create_promotion(self) -> None:
        """Send the new promotion; the server's words come back if it refuses."""
        try:
            body = self.body()
        except ValueError as exc:
            self.message.setText(str(exc))
            return

        def created(rule: RuleRead) -> None:
            self.message.setText(f"Created {rule.name}; tills get it at their next sync.")
            self.table.reload(keep_page=True)

        NetOp(lambda api: api.create_promotion(body), pool=self.ctx.pool, owner=self).success(
            created
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def end_selected(self) -> None:
        """End the selected promotions now."""
        rows = self.table.selected_rows()
        if not rows:
            self.message.setText("Select a promotion first.")
            return

        ids = [row.id for row in rows]

        def end(api: ApiClient) -> int:
            for rule_id in ids:
                api.end_promotion(rule_id)
            return len(ids)

        def ended(n: int) -> None:
            self.message.setText(f"Ended {n} promotion(s).")
            self.table.reload()

        NetOp(end, pool=self.ctx.pool, owner=self).success(ended).failure(
            lambda e: self.message.setText(describe(e))
        ).run()

    def preview(self) -> None:
        """Ask the server what a cart would cost now."""
        lines = []
        for part in self.preview_cart.text().replace(" ", "").split(","):
            if not part:
                continue
            product, _, qty = part.lower().partition("x")
            if not product.isdigit():
                self.preview_result.setText("Write the cart as product id x quantity: 12x3, 14x1")
                return
            lines.append({"product_id": int(product), "quantity": qty or "1"})
        if not lines:
            self.preview_result.setText("Write the cart as product id x quantity: 12x3, 14x1")
            return
        try:
            cart = PreviewIn.model_validate({"lines": lines})
        except ValidationError as exc:
            self.preview_result.setText(schema_errors(exc))
            return
        NetOp(lambda api: api.preview_prices(cart), pool=self.ctx.pool, owner=self).success(
            self._previewed
        ).failure(lambda e: self.preview_result.setText(describe(e))).run()

    def _previewed(self, answer: PreviewRead) -> None:
        why = "; ".join(f"{a.name} −{a.amount}" for a in answer.applied)
        self.preview_result.setText(
            f"Total {answer.total} (saved {answer.saved})" + (f": {why}" if why else "")
        )
