"""The till and the server tax the same cart to the same paisa, line by line and in total."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from common.codes import Unit
from common.tax import Supply, class_from_wire, document_totals, gst_class
from pos_client.services.till import Cart, CatalogItem, Override
from sync_server.tax import service as server_tax

RATES = ["0", "5", "12", "18", "28"]

lines = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50000), places=2),
        st.integers(min_value=1, max_value=9),
        st.sampled_from(RATES),
        st.booleans(),  # in a GST class (True) or with a plain one-figure rate
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(cart_lines=lines, order_discount=st.integers(min_value=0, max_value=10))
def test_till_and_server_compute_identical_tax_for_the_same_cart(cart_lines, order_discount):
    cart = Cart(max_discount_percent=Decimal(100))
    products = []
    for n, (price, quantity, rate, classed) in enumerate(cart_lines, start=1):
        # What the server stores for a class, read back as a till reads it from the feed.
        sent = {"code": "C", "name": "C", "rates": server_tax.rates_json(gst_class(rate).rates)}
        tax_class = class_from_wire(sent) if classed else None
        item = CatalogItem(
            product_id=n,
            sku=f"S{n}",
            name="Item",
            price=price,
            unit=Unit.PIECE,
            tax_rate=Decimal(rate),
            tax_class=tax_class,
        )
        cart.add(item, quantity=Decimal(quantity))
        products.append(SimpleNamespace(tax_class_id=None, tax_rate=Decimal(rate), cls=tax_class))
    if order_discount:
        manager = Override(manager_id=1, manager_name="M", action="", detail="")
        cart.set_order_discount(percent=Decimal(order_discount), override=manager)

    server_lines = []
    for line, product in zip(cart.lines, products, strict=True):
        if product.cls is None:
            taxed = server_tax.line_tax(
                None, product=product, amount=line.net, supply=Supply.INTRA, currency="INR"
            )
        else:
            taxed = server_tax.tax_line(
                line.net, tax_class=product.cls, day=date.today(), supply=Supply.INTRA
            )
        assert taxed.tax == line.tax
        assert taxed.total == line.net
        server_lines.append(taxed)
    server = document_totals(server_lines)
    till = cart.totals()
    assert (server.total, server.tax) == (till.total, till.tax)
