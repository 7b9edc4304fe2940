"""Held sales: carts parked at one till and recalled at another till of the branch."""
