"""Provisioning: a new business with its admin and first branch, and the tenant and branch
commands. It stands on org and auth, so neither of them has to reach up for it."""
