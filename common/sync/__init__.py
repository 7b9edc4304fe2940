"""Wire schemas of the sync protocol."""
