"""Back-office screens of the desktop app: online tools over the sync server's API."""
