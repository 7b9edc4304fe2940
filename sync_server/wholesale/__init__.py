"""Wholesale sales requests: approval takes the stock, puts it on account, issues an invoice."""
