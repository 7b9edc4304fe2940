"""Entry point of the till bundle: maintenance commands first, else the till window.

`backup`/`restore` and `--self-check` are dispatched here as well as by pos_client.app, so
the bundle answers them even before the app's own parser knows them.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command the shop asked for."""
    argv = sys.argv[1:]
    if argv[:1] in (["backup"], ["restore"]):
        from pos_client.backup import main_backup

        return main_backup(argv)
    if "--self-check" in argv:
        from pos_client.selfcheck import main_self_check

        return main_self_check(argv)
    from pos_client.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
