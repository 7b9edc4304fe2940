"""Tax classes with components and effective-dated rates (the rules are in common/tax.py)."""
