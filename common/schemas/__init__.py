"""The pydantic models of the HTTP API, shared by the server and the desktop app."""
