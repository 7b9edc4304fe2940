"""One logging setup for the server and every uvicorn worker: time, level, logger, message."""

from __future__ import annotations

from typing import Any

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(level: str) -> dict[str, Any]:
    """Return a dictConfig that uvicorn applies in the parent and in each worker process."""
    level = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LINE_FORMAT}},
        "handlers": {"default": handler},
        # Every logger, ours and uvicorn's (access lines included), goes through one handler.
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
