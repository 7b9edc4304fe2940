"""Where the till keeps its files: the per-user app data directory Qt chooses per platform."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Till"
ORG_NAME = "StockPilot"
ORG_DOMAIN = "stockpilot.app"
STORE_FILENAME = "till.db"  # the name pos_client.config.TillConfig.store_path uses
# Lets an operator (or a test) put the data elsewhere without touching the command line.
DATA_DIR_ENV = "STOCKPILOT_TILL_DATA_DIR"


def set_app_identity() -> None:
    """Name the application for Qt, so settings and data land in StockPilot's own folders."""
    from PySide6.QtCore import QCoreApplication

    # Static setters: they work before (and without) a QApplication instance.
    if QCoreApplication.organizationName() != ORG_NAME:
        QCoreApplication.setOrganizationName(ORG_NAME)
        QCoreApplication.setOrganizationDomain(ORG_DOMAIN)
    if QCoreApplication.applicationName() != APP_NAME:
        QCoreApplication.setApplicationName(APP_NAME)


def default_data_dir() -> Path:
    """Return the till's data folder: $STOCKPILOT_TILL_DATA_DIR, else Qt's AppDataLocation.

    Linux: ~/.local/share/StockPilot/Till; Windows:
    %APPDATA%/StockPilot/Till; macOS: ~/Library/Application Support/StockPilot/Till.
    The folder is not created here.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from PySide6.QtCore import QStandardPaths

    set_app_identity()
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not location:
        # Qt answers "" only when it cannot find a home directory at all.
        return Path.home() / ".stockpilot-till"
    return Path(location)


def store_path(data_dir: Path | None = None) -> Path:
    """Return the local store file inside data_dir (the default data folder when None)."""
    return (data_dir if data_dir is not None else default_data_dir()) / STORE_FILENAME
