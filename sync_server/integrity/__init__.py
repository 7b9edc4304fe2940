"""integrity domain: the ledger check and the watch that checkpoints the audit chain."""
