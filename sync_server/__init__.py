"""StockPilot sync server: the truth for catalog, stock, purchasing, credit and audit."""

__version__ = "0.1.0"
