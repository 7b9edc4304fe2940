"""The scanner-versus-typing rule, driven by injected key timestamps."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pos_client.scanners.hid import Decision, ScanDetector, Verdict

CODE = "5901234123457"


def burst(text: str, *, start_ms: float, gap_ms: float) -> list[tuple[str, float]]:
    """Return key events for `text` typed with a fixed gap between keys."""
    return [(char, start_ms + index * gap_ms) for index, char in enumerate(text)]


def run(detector: ScanDetector, keys: Iterable[tuple[str, float]]) -> list[Decision]:
    decisions: list[Decision] = []
    for key, at_ms in keys:
        decisions.extend(detector.feed(key, timestamp_ms=at_ms))
    return decisions


def outcome(decisions: list[Decision]) -> tuple[list[str], str]:
    """Return (scanned codes, text a widget would receive) from a list of decisions."""
    codes = [d.text for d in decisions if d.verdict is Verdict.SCAN]
    typed = "".join(
        d.text for d in decisions if d.verdict is Verdict.TYPING or d.verdict is Verdict.PASS
    )
    return codes, typed


def test_fast_burst_with_return_is_one_scan() -> None:
    detector = ScanDetector()
    keys = burst(CODE, start_ms=1000, gap_ms=3)
    decisions = run(detector, [*keys, ("Return", keys[-1][1] + 3)])

    assert all(d.verdict is Verdict.HOLD for d in decisions[:-1])
    assert decisions[-1] == Decision(Verdict.SCAN, CODE)
    assert outcome(decisions) == ([CODE], "")
    assert detector.pending == ""


def test_slow_typing_passes_through_key_by_key() -> None:
    detector = ScanDetector()
    keys = burst("hello", start_ms=1000, gap_ms=150)
    decisions = run(detector, keys)

    # Each key is held until the next one shows it was typed; a pause releases the last.
    decisions += detector.flush()
    assert outcome(decisions) == ([], "hello")
    assert [d.text for d in decisions if d.verdict is Verdict.TYPING] == list("hello")


def test_typing_at_a_brisk_pace_is_handed_over_without_waiting_for_a_pause() -> None:
    detector = ScanDetector()
    decisions = run(detector, burst("tata", start_ms=0, gap_ms=90))
    # Two gaps of a person's are enough to tell: the keys go out while typing goes on.
    assert [d.text for d in decisions if d.verdict is Verdict.TYPING] == ["ta"]
    assert outcome([*decisions, *detector.flush()]) == ([], "tata")


def test_slow_typing_then_return_is_typing_and_return_passes() -> None:
    detector = ScanDetector()
    keys = burst("590123", start_ms=0, gap_ms=90)
    decisions = run(detector, [*keys, ("Return", 540)])

    assert outcome(decisions) == ([], "5901" + "23" + "Return")
    assert decisions[-1] == Decision(Verdict.PASS, "Return")


def test_typing_then_scan_then_typing() -> None:
    detector = ScanDetector()
    typed_before = burst("12", start_ms=0, gap_ms=150)
    scan = burst(CODE, start_ms=600, gap_ms=2)
    scan_end = scan[-1][1] + 2
    typed_after = burst("ab", start_ms=scan_end + 400, gap_ms=200)
    decisions = run(detector, [*typed_before, *scan, ("Enter", scan_end), *typed_after])
    decisions += detector.flush()

    codes, typed = outcome(decisions)
    assert codes == [CODE]
    assert typed == "12ab"


def test_burst_shorter_than_min_length_is_typing() -> None:
    detector = ScanDetector(min_length=6)
    keys = burst("12345", start_ms=0, gap_ms=2)
    decisions = run(detector, [*keys, ("Return", 10)])

    assert outcome(decisions) == ([], "12345Return")
    assert decisions[-2:] == [Decision(Verdict.TYPING, "12345"), Decision(Verdict.PASS, "Return")]


def test_exactly_min_length_is_a_scan() -> None:
    detector = ScanDetector(min_length=6)
    decisions = run(detector, [*burst("123456", start_ms=0, gap_ms=2), ("Return", 12)])
    assert outcome(decisions) == (["123456"], "")


def test_tab_terminates_a_scan() -> None:
    detector = ScanDetector()
    keys = burst("ABC-12345", start_ms=50, gap_ms=1)
    decisions = run(detector, [*keys, ("Tab", 60)])
    assert outcome(decisions) == (["ABC-12345"], "")


def test_control_character_aliases_terminate() -> None:
    detector = ScanDetector()
    for alias in ("\r", "\n", "\t"):
        decisions = run(detector, [*burst(CODE, start_ms=0, gap_ms=1), (alias, 14)])
        assert outcome(decisions) == ([CODE], "")


def test_custom_terminators_exclude_tab() -> None:
    detector = ScanDetector(terminators={"Return"})
    decisions = run(detector, [*burst(CODE, start_ms=0, gap_ms=1), ("Tab", 14)])
    # Tab is an ordinary non-printable key here: it gives up the run as typing.
    assert outcome(decisions) == ([], CODE + "Tab")


def test_gap_exactly_at_the_limit_is_fast_and_just_over_is_not() -> None:
    detector = ScanDetector(max_gap_ms=30)
    assert outcome(run(detector, [*burst(CODE, start_ms=0, gap_ms=30), ("Return", 390)])) == (
        [CODE],
        "",
    )
    detector = ScanDetector(max_gap_ms=30)
    codes, typed = outcome(run(detector, [*burst(CODE, start_ms=0, gap_ms=31), ("Return", 403)]))
    assert codes == []
    assert typed == CODE + "Return"


def test_slow_terminator_after_fast_burst_is_typing() -> None:
    detector = ScanDetector()
    keys = burst(CODE, start_ms=0, gap_ms=2)
    decisions = run(detector, [*keys, ("Return", keys[-1][1] + 200)])
    assert outcome(decisions) == ([], CODE + "Return")


def test_a_scan_that_stalls_past_the_limit_is_partial_never_a_scan_of_its_tail() -> None:
    detector = ScanDetector()
    first = burst("590", start_ms=0, gap_ms=2)
    rest = burst("1234123457", start_ms=200, gap_ms=2)
    decisions = run(detector, [*first, *rest, ("Return", rest[-1][1] + 2)])
    # The first three keys went out as typing before the stall showed what they were; the
    # tail is long enough to pass for a code, but reading it would name another product.
    assert outcome(decisions) == ([], "590")
    assert decisions[-1] == Decision(Verdict.PARTIAL, CODE, head="590")


def test_pieces_of_a_scan_cut_by_several_stalls_are_one_partial() -> None:
    detector = ScanDetector()
    pieces = [burst("5", start_ms=0, gap_ms=2), burst("90", start_ms=200, gap_ms=2)]
    rest = burst("1234123457", start_ms=400, gap_ms=2)
    decisions = run(detector, [*pieces[0], *pieces[1], *rest, ("Return", rest[-1][1] + 2)])
    assert decisions[-1] == Decision(Verdict.PARTIAL, CODE, head="590")


def test_scan_stretched_by_a_busy_machine_is_still_one_scan() -> None:
    # Under load, X stamps most keys a few ms apart, some 31-75 ms and now and then more.
    gaps = [2, 3, 41, 1, 2, 73, 2, 31, 2, 4, 115, 2]
    keys, at = [], 1000.0
    for char, gap in zip(CODE, [0, *gaps], strict=True):
        at += gap
        keys.append((char, at))
    decisions = run(ScanDetector(), [*keys, ("Return", at + 62)])
    assert outcome(decisions) == ([CODE], "")


def test_fast_typist_is_not_a_scanner() -> None:
    # 60 ms between keys is a very fast typist: every gap is under the stall limit, but the
    # rhythm is a person's, so the text and its Return are typing.
    decisions = run(ScanDetector(), [*burst("tata12", start_ms=0, gap_ms=60), ("Return", 360)])
    assert outcome(decisions) == ([], "tata12Return")


def test_rhythm_adapts_to_a_slow_scanner() -> None:
    detector = ScanDetector(max_gap_ms=30, stall_gap_ms=80)
    # A slow scanner, 24 ms a key: a scan at the default limit, and its rhythm is learned.
    for start in (0, 1000, 2000):
        keys = burst(CODE, start_ms=start, gap_ms=24)
        assert outcome(run(detector, [*keys, ("Return", keys[-1][1] + 24)])) == ([CODE], "")
    assert detector.rhythm_ms == 24
    assert detector.typical_gap_limit_ms == 40  # 3 x 24, capped at half the stall limit
    # The same scanner slowed down by load (36 ms a key) is still a scanner.
    keys = burst(CODE, start_ms=5000, gap_ms=36)
    assert outcome(run(detector, [*keys, ("Return", keys[-1][1] + 36)])) == ([CODE], "")
    # A person at 60 ms is not, however much the limit has adapted.
    keys = burst("123456", start_ms=9000, gap_ms=60)
    assert outcome(run(detector, [*keys, ("Return", keys[-1][1] + 60)]))[0] == []


def test_rhythm_does_not_adapt_when_told_not_to() -> None:
    detector = ScanDetector(adaptive=False)
    keys = burst(CODE, start_ms=0, gap_ms=24)
    run(detector, [*keys, ("Return", keys[-1][1] + 24)])
    assert detector.typical_gap_limit_ms == 30


def test_typing_long_before_a_scan_does_not_make_it_partial() -> None:
    detector = ScanDetector()
    typed = burst("ab", start_ms=0, gap_ms=150)
    scan = burst(CODE, start_ms=800, gap_ms=2)
    decisions = run(detector, [*typed, *scan, ("Return", scan[-1][1] + 2)])
    assert outcome(decisions) == ([CODE], "ab")


def test_non_printable_key_gives_up_the_run() -> None:
    detector = ScanDetector()
    decisions = run(detector, [*burst("5901", start_ms=0, gap_ms=2), ("Backspace", 9)])
    assert decisions[-2:] == [Decision(Verdict.TYPING, "5901"), Decision(Verdict.PASS, "Backspace")]
    assert detector.pending == ""


def test_terminator_with_nothing_held_passes() -> None:
    detector = ScanDetector()
    assert detector.feed("Return", timestamp_ms=5) == [Decision(Verdict.PASS, "Return")]


def test_clock_going_backwards_is_never_a_burst() -> None:
    detector = ScanDetector()
    decisions = run(detector, [("5", 1000), ("9", 990)])
    assert decisions == [
        Decision(Verdict.HOLD, "5"),
        Decision(Verdict.TYPING, "5"),
        Decision(Verdict.HOLD, "9"),
    ]


def test_two_scans_back_to_back() -> None:
    detector = ScanDetector()
    first = burst(CODE, start_ms=0, gap_ms=2)
    second = burst("96385074", start_ms=500, gap_ms=2)
    decisions = run(detector, [*first, ("Return", 26), *second, ("Return", 516)])
    assert outcome(decisions) == ([CODE, "96385074"], "")


@pytest.mark.parametrize(
    ("max_gap_ms", "stall_gap_ms", "min_length"), [(0, 80, 6), (30, 80, 0), (50, 40, 6)]
)
def test_rejects_nonsense_settings(max_gap_ms: float, stall_gap_ms: float, min_length: int) -> None:
    with pytest.raises(ValueError):
        ScanDetector(max_gap_ms=max_gap_ms, stall_gap_ms=stall_gap_ms, min_length=min_length)


def test_a_short_tail_after_a_stall_still_ends_the_scan_and_keeps_its_return() -> None:
    detector = ScanDetector()
    head = burst("59012341", start_ms=0, gap_ms=2)
    tail = burst("23457", start_ms=300, gap_ms=2)
    decisions = run(detector, [*head, *tail, ("Return", tail[-1][1] + 2)])
    # Five keys are too few for a scan, but they follow a stalled start: the Return is not
    # handed to the box that holds the start (a payment's amount box, say).
    assert decisions[-1] == Decision(Verdict.PARTIAL, CODE, head="59012341")
    assert outcome(decisions) == ([], "59012341")
