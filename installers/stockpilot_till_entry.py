"""Entry point of the till bundle: the same main() as the stockpilot-till command.

pos_client.app.main also answers `backup`, `restore` and `--self-check`, so the bundle does.
"""

from __future__ import annotations

import sys

from pos_client.app import main

if __name__ == "__main__":
    sys.exit(main())
