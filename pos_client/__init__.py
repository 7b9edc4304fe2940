"""StockPilot pos_client."""
