"""Tell a keyboard-wedge scanner's burst from human typing, from key timestamps alone.

No Qt here: the rule is tested with injected times, and `hid.HidScannerFilter` applies it
to a running application.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["DEFAULT_TERMINATORS", "Decision", "ScanDetector", "Verdict"]

DEFAULT_TERMINATORS = frozenset({"Enter", "Return", "Tab"})
# Control characters a caller may feed instead of key names.
_TERMINATOR_ALIASES = {"\r": "Return", "\n": "Enter", "\t": "Tab"}


class Verdict(Enum):
    """What to do with keys fed to a `ScanDetector`."""

    HOLD = "hold"  # keep the key back: it may be the start or middle of a scan
    TYPING = "typing"  # the held keys (`text`) were typed by a person: deliver them now
    SCAN = "scan"  # `text` is a complete code; the held keys and the terminator are consumed
    PASS = "pass"  # the key just fed (`text`) was not held: let it through as it is
    # A scan that stalled mid-way: its first part went out as typing before the pause showed
    # what it was. `text` is both parts; the held keys and the terminator are consumed.
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    text: str
    head: str = ""  # for PARTIAL: the part of `text` that already went out as typing


# How much one scan's rhythm moves the learned rhythm (an exponential moving average).
_RHYTHM_WEIGHT = 0.2
# The learned rhythm may raise the typical-gap limit to this many times itself...
_RHYTHM_HEADROOM = 3.0


class ScanDetector:
    """Decide, key by key, whether input is a scanner burst or human typing.

    Feed printable characters and key names with their timestamps in milliseconds. Two
    limits tell a scanner from a person:

    * `max_gap_ms`: the typical (median) gap between a scan's keys. Scanners send a key
      every few milliseconds; people, even fast typists, 60 ms or more. With `adaptive`,
      the limit rises to three times the rhythm measured on recent scans (for slow
      scanners), never past half of `stall_gap_ms`.
    * `stall_gap_ms`: the longest single gap a burst may have. A busy machine stretches
      a few of a burst's gaps to 30-75 ms (the X server or the scanner's USB stack was
      not scheduled); a gap past this ends the run as typing.

    A run is a scan when it has at least `min_length` characters and a terminator follows
    it within the stall limit. When a run that ended on a pause is followed at once by a
    run that ends like a scan, the scan stalled mid-way: that is reported as PARTIAL
    (never as a scan of its tail, which would read as some other, unknown code).
    """

    def __init__(
        self,
        *,
        max_gap_ms: float = 30.0,
        stall_gap_ms: float = 120.0,
        min_length: int = 6,
        adaptive: bool = True,
        terminators: Iterable[str] = DEFAULT_TERMINATORS,
    ) -> None:
        if max_gap_ms <= 0:
            raise ValueError("max_gap_ms must be positive")
        if stall_gap_ms < max_gap_ms:
            raise ValueError("stall_gap_ms must be at least max_gap_ms")
        if min_length < 1:
            raise ValueError("min_length must be at least 1")
        self.max_gap_ms = float(max_gap_ms)
        self.stall_gap_ms = float(stall_gap_ms)
        self.min_length = min_length
        self.adaptive = adaptive
        self.terminators = frozenset(terminators)
        # Typical gap of the scans seen so far (None until the first one).
        self.rhythm_ms: float | None = None
        self._chars: list[str] = []
        self._gaps: list[float] = []
        self._last_ms = 0.0
        self._run_start_ms = 0.0
        # What went out as typing on pauses just before this run: (text, its last key's time).
        self._paused: tuple[str, float] | None = None

    @property
    def pending(self) -> str:
        """Return the characters held back so far."""
        return "".join(self._chars)

    @property
    def typical_gap_limit_ms(self) -> float:
        """Return the median gap a burst may have to be a scan, after adapting."""
        if not self.adaptive or self.rhythm_ms is None:
            return self.max_gap_ms
        learned = min(_RHYTHM_HEADROOM * self.rhythm_ms, self.stall_gap_ms / 2)
        return max(self.max_gap_ms, learned)

    def is_terminator(self, key: str) -> bool:
        """Return whether `key` (a name such as "Return", or "\\r") ends a scan."""
        return _TERMINATOR_ALIASES.get(key, key) in self.terminators

    def feed(self, key: str, *, timestamp_ms: float) -> list[Decision]:
        """Take one key press: a printable character or a key name ("Return", "Escape")."""
        if self.is_terminator(key):
            return self._terminate(_TERMINATOR_ALIASES.get(key, key), timestamp_ms=timestamp_ms)
        if len(key) != 1 or not key.isprintable():
            return [*self.interrupt(), Decision(Verdict.PASS, key)]
        decisions: list[Decision] = []
        if self._chars:
            if self._within_stall(timestamp_ms):
                self._gaps.append(timestamp_ms - self._last_ms)
                if len(self._gaps) >= 2 and min(self._gaps) > 2 * self.typical_gap_limit_ms:
                    # Every gap so far is a person's: hand the keys over now rather than
                    # after the next pause, so typing shows as it is typed.
                    self._gaps.pop()
                    decisions.extend(self.flush())
            else:
                # Too slow to belong to the run so far: that run was typed (or a scan that
                # stalled, which the next terminator will tell), and this key may start a scan.
                decisions.extend(self.flush())
        if not self._chars:
            self._run_start_ms = timestamp_ms
            if self._paused is not None and not self._soon_after(self._paused[1], timestamp_ms):
                self._paused = None
        self._chars.append(key)
        self._last_ms = timestamp_ms
        decisions.append(Decision(Verdict.HOLD, key))
        return decisions

    def interrupt(self) -> list[Decision]:
        """Give up the current run because a key that no scanner sends arrived."""
        decisions = self._give_up()
        self._paused = None
        return decisions

    def flush(self) -> list[Decision]:
        """Give up the current run because typing paused: the held keys were typed."""
        if self._chars:
            # Runs cut by pauses in quick succession may all be pieces of one stalled scan.
            before = self._paused[0] if self._paused is not None else ""
            self._paused = (before + self.pending, self._last_ms)
        return self._give_up()

    def _give_up(self) -> list[Decision]:
        if not self._chars:
            return []
        text = self.pending
        self._reset_run()
        return [Decision(Verdict.TYPING, text)]

    def _reset_run(self) -> None:
        self._chars.clear()
        self._gaps.clear()

    def _terminate(self, name: str, *, timestamp_ms: float) -> list[Decision]:
        if not self._chars:
            self._paused = None
            return [Decision(Verdict.PASS, name)]
        gaps = [*self._gaps, timestamp_ms - self._last_ms]
        fast = self._within_stall(timestamp_ms) and self._looks_fast(gaps)
        paused, code = self._paused, self.pending
        if (
            fast
            and paused is not None
            and self._soon_after(paused[1], self._run_start_ms)
            and len(paused[0]) + len(code) >= self.min_length
        ):
            # The end of a scan whose start went out as typing (even a tail too short to be
            # a scan by itself): its terminator must not reach the box that holds the start.
            self._paused = None
            self._reset_run()
            return [Decision(Verdict.PARTIAL, paused[0] + code, head=paused[0])]
        if len(self._chars) >= self.min_length and fast:
            self._paused = None
            self._reset_run()
            self._learn(gaps)
            return [Decision(Verdict.SCAN, code)]
        self._paused = None
        return [*self._give_up(), Decision(Verdict.PASS, name)]

    def _soon_after(self, paused_at: float, started_at: float) -> bool:
        # A run that starts within a few stall limits of the last paused one may continue it.
        return 0.0 <= started_at - paused_at <= 3 * self.stall_gap_ms

    def _looks_fast(self, gaps: list[float]) -> bool:
        if not gaps:
            return True  # one key alone says nothing either way
        return statistics.median(gaps) <= self.typical_gap_limit_ms

    def _learn(self, gaps: list[float]) -> None:
        typical = statistics.median(gaps)
        if self.rhythm_ms is None:
            self.rhythm_ms = typical
        else:
            self.rhythm_ms += _RHYTHM_WEIGHT * (typical - self.rhythm_ms)

    def _within_stall(self, timestamp_ms: float) -> bool:
        # A negative gap means the clock changed under us (X server time wraps after
        # 49 days, or a synthetic event carries no time): never call that a burst.
        return 0.0 <= timestamp_ms - self._last_ms <= self.stall_gap_ms
