"""stockpilot-till: the composition root of the desktop app."""

from __future__ import annotations

import argparse
import sys

__version__ = "0.1.0"


def build_parser() -> argparse.ArgumentParser:
    """Return the till's command-line parser."""
    parser = argparse.ArgumentParser(prog="stockpilot-till",
                                     description="StockPilot till and manager screens.")
    parser.add_argument("--server", default="http://127.0.0.1:8765", help="sync server URL")
    parser.add_argument("--data-dir", help="where the till keeps its local store")
    parser.add_argument("--version", action="version", version=f"StockPilot till {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the till window."""
    args = build_parser().parse_args(argv)
    import httpx
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv[:1])
    try:
        health = httpx.get(f"{args.server}/api/v1/health", timeout=3).json()
        status = f"Connected to {args.server} (server {health.get('version')})"
    except (httpx.HTTPError, ValueError):
        status = f"Server {args.server} unreachable: working offline"
    label = QLabel(f"StockPilot till\n{status}")
    label.setWindowTitle("StockPilot")
    label.resize(480, 200)
    label.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
