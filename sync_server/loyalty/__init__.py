"""Loyalty points: earned on sales by the rules, burned as a tender; a ledger per customer."""
