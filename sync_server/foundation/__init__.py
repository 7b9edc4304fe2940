"""What every domain stands on: the change feed, the tenant heads, who is calling, the
request's session, the credentials registry and the background jobs.

Nothing here imports a domain; a domain that must reach in (a credential it resolves, a
head it keeps, a job it runs) registers from its receivers.py.
"""
