"""API rate limiting per credential (API key, device, user) or client address."""
