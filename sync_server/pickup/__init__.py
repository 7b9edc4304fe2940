"""Click-and-collect: an online order picked up and paid for at a branch's till."""
