"""Customer credit: a ledger of charges, payments and adjustments per customer."""
