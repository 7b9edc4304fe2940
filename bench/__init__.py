"""Benchmarks that print figures beside the budgets in DESIGN.md."""
