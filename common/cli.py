"""The one error boundary of StockPilot's command lines: one line on stderr, never a traceback.

Exit codes: 0 done, 1 the command failed, 2 bad usage or bad input, 130 interrupted.
Unexpected errors are written whole (with their traceback) to a log file whose path the
one-line message names, so support can still see what happened.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from common.errors import DomainError, ValidationFailed

if TYPE_CHECKING:  # the till's start-up does not load pydantic until it needs it
    from pydantic import ValidationError

USAGE = 2
FAILURE = 1
INTERRUPTED = 130


class CliError(Exception):
    """A command cannot go on; the message is written for the person at the terminal."""

    def __init__(self, message: str, *, code: int = FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def usage_error(message: str) -> CliError:
    """Return a bad-usage error (exit code 2)."""
    return CliError(message, code=USAGE)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, naming the --help to read."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2 (argparse would print the usage block too)."""
        root = self.prog.split()[0]
        sys.stderr.write(f"{root}: {message} (see '{self.prog} --help')\n")
        raise SystemExit(USAGE)


# The subcommand table each part of a program adds its commands to.
Subcommands: TypeAlias = "argparse._SubParsersAction[OneLineParser]"


# What the input patterns of common.schemas mean, in words.
PATTERN_WORDS = {
    r"^[0-9]{4,8}$": "must be 4 to 8 digits",
    r"^[A-Za-z0-9_.@-]+$": "may hold only letters, digits and _ . @ -",
    r"^[A-Z0-9-]+$": "may hold only letters, digits and -",
    r"^[A-Z]{3}$": "must be a three-letter currency code such as INR",
}


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type for a whole number within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    parse.__name__ = "whole number"
    return parse


def validation_message(exc: ValidationError, *, labels: dict[str, str] | None = None) -> str:
    """Return pydantic's complaints as one line, naming fields as the user typed them."""
    labels = labels or {}
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()))
        name = labels.get(field, field)
        message = str(error.get("msg", "is invalid"))
        pattern = error.get("ctx", {}).get("pattern")
        if pattern:
            message = PATTERN_WORDS.get(pattern, f"must match {pattern}")
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)


def one_line(text: str) -> str:
    """Return text folded onto one line (driver messages span several)."""
    return " ".join(str(text).split())


def log_unexpected(*, prog: str, exc: BaseException, log_dirs: Iterable[Path]) -> Path | None:
    """Append the full traceback to <dir>/<prog>-errors.log; return the file written."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for folder in [*log_dirs, Path(tempfile.gettempdir())]:
        path = Path(folder) / f"{prog}-errors.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(f"--- {stamp} {' '.join(sys.argv)}\n{text}\n")
        except OSError:
            continue
        return path
    return None


def run_guarded(
    *,
    prog: str,
    body: Callable[[], int],
    translate: Callable[[BaseException], CliError | None] | None = None,
    log_dirs: Callable[[], Iterable[Path]] = lambda: (),
    labels: dict[str, str] | None = None,
) -> int:
    """Run a command; turn every error into one line on stderr and an exit code."""
    try:
        return body()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        error = CliError("interrupted", code=INTERRUPTED)
    except CliError as exc:
        error = exc
    except ValidationFailed as exc:
        error = usage_error(exc.detail)
    except DomainError as exc:
        error = CliError(exc.detail)
    except Exception as exc:  # the boundary: whatever escaped becomes one line
        if _is_validation_error(exc):
            error = usage_error(validation_message(exc, labels=labels))  # type: ignore[arg-type]
        else:
            error = (translate(exc) if translate else None) or _unexpected(prog, exc, log_dirs)
    sys.stderr.write(f"{prog}: {one_line(error.message)}\n")
    return error.code


def _is_validation_error(exc: BaseException) -> bool:
    """Say whether exc is pydantic's (a process that never loaded pydantic cannot raise one)."""
    if "pydantic" not in sys.modules:
        return False
    from pydantic import ValidationError

    return isinstance(exc, ValidationError)


def _unexpected(prog: str, exc: BaseException, log_dirs: Callable[[], Iterable[Path]]) -> CliError:
    if isinstance(exc, OSError):
        return CliError(str(exc))
    try:
        dirs = list(log_dirs())
    except Exception:  # the settings themselves may be what failed
        dirs = []
    logged = log_unexpected(prog=prog, exc=exc, log_dirs=dirs)
    where = f"; details in {logged}" if logged else ""
    return CliError(f"unexpected error ({type(exc).__name__}: {one_line(str(exc))}){where}")
