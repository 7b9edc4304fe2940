"""The till's local SQLite store: replica, documents, outbox and sync state."""
