"""Pure Python shared by the till and the sync server: money, barcodes, ids, roles, schemas."""
