"""Backups of the server database: SQLite's online backup API, or pg_dump for PostgreSQL."""
