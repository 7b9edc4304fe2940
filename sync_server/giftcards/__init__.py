"""Gift cards and store credit: a server-held balance with a ledger per card."""
