"""Receipts, labels and printers: text layout, ESC/POS bytes, PDF, ZPL and a print queue."""
