"""Printable documents (invoices, statements) rendered as PDF."""
