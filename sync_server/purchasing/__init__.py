"""Purchase orders with approval and receiving, vendor ledgers, reorder suggestions."""
