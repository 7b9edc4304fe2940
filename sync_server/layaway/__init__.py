"""Deposits and layaway: goods reserved against a part payment, paid off later or released."""
