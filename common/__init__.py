"""StockPilot common."""
