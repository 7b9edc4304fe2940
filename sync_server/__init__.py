"""StockPilot sync_server."""
