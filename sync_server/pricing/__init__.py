"""Price lists and promotions: stored rules, their change feed and cart previews."""
