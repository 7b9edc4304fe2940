"""Alerts managers must see: low, out-of-stock and negative stock, and kinds other domains raise."""
