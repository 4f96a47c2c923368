"""Keyboard wedge: scanner bursts become scans; a person's keys all reach the UI, in order."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import given
from hypothesis import strategies as st

from hardware.scanners.wedge import (
    BurstDropped,
    KeyPress,
    PassThrough,
    ScanDetected,
    WedgeDetector,
    WedgeEvent,
)

SCANNER_GAP = 0.005
TYPING_GAP = 0.120
FAR_FUTURE = 1e9

Key = tuple[str, str | None]  # (key name, character), as Textual reports them
ENTER: Key = ("enter", "\r")
TAB: Key = ("tab", "\t")
GS: Key = ("ctrl+right_square_bracket", "\x1d")
UP: Key = ("up", None)
BACKSPACE: Key = ("backspace", "\x7f")


def keys_for(text: str, *, enter: bool = True) -> list[Key]:
    keys: list[Key] = [(char, char) for char in text]
    return [*keys, ENTER] if enter else keys


def feed(
    detector: WedgeDetector, keys: Iterable[Key], start: float, gap: float
) -> tuple[list[WedgeEvent], float]:
    """Feed keys ``gap`` seconds apart from ``start``; returns the events and the last time."""
    events: list[WedgeEvent] = []
    at = start
    for index, (key, character) in enumerate(keys):
        at = start + index * gap
        events += detector.feed(key, character, at)
    return events, at


def passed_through(events: Iterable[WedgeEvent]) -> list[str]:
    return [press.key for event in events if isinstance(event, PassThrough) for press in event.keys]


def test_a_scanner_burst_is_one_scan_and_nothing_reaches_the_ui() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, keys_for("4006381333931"), start=10.0, gap=SCANNER_GAP)
    events += detector.poll(last + 1)
    assert [type(event) for event in events] == [ScanDetected]
    assert isinstance(events[0], ScanDetected)
    assert events[0].data == "4006381333931"
    assert len(events[0].keys) == 14
    assert detector.stats.snapshot().accepted == 1


def test_a_person_typing_gets_every_key_in_order() -> None:
    detector = WedgeDetector()
    keys = [*keys_for("Ab1 x", enter=False), BACKSPACE, TAB, UP, *keys_for("y")]
    events, last = feed(detector, keys, start=0.0, gap=TYPING_GAP)
    events += detector.poll(last + 1)
    assert all(isinstance(event, PassThrough) for event in events)
    assert passed_through(events) == [key for key, _ in keys]
    snapshot = detector.stats.snapshot()
    assert (snapshot.accepted, snapshot.rejected) == (0, 0)


def test_typed_keys_are_held_only_until_the_gap_has_passed() -> None:
    detector = WedgeDetector()
    assert detector.feed("a", "a", 5.0) == []
    assert detector.next_deadline() == 5.0 + detector.max_gap_s
    assert detector.poll(5.0 + detector.max_gap_s / 2) == []
    assert passed_through(detector.poll(5.1)) == ["a"]
    assert detector.next_deadline() is None


def test_a_burst_cut_off_mid_way_is_dropped_and_counted() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, keys_for("400638", enter=False), start=0.0, gap=SCANNER_GAP)
    events += detector.poll(last + 1)
    assert passed_through(events) == []
    assert len(events) == 1
    assert isinstance(events[0], BurstDropped)
    assert "Enter" in events[0].reason
    snapshot = detector.stats.snapshot()
    assert snapshot.rejected == 1
    assert dict(snapshot.rejected_by_code) == {"incomplete": 1}


def test_a_burst_ended_by_another_key_is_dropped_too() -> None:
    detector = WedgeDetector()
    events, _ = feed(detector, [*keys_for("400638", enter=False), UP], 0.0, SCANNER_GAP)
    assert [type(event) for event in events] == [BurstDropped]
    assert dict(detector.stats.snapshot().rejected_by_code) == {"wrong_end": 1}


def test_gs1_separators_typed_as_ctrl_keys_stay_in_the_scan() -> None:
    detector = WedgeDetector()
    keys = [*keys_for("0109501101530003", enter=False), GS, *keys_for("10ABC")]
    events, _ = feed(detector, keys, start=0.0, gap=SCANNER_GAP)
    assert [event.data for event in events if isinstance(event, ScanDetected)] == [
        "0109501101530003\x1d10ABC"
    ]
    assert len(events) == 1


def test_a_control_key_never_starts_a_burst() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, [TAB, *keys_for("abc", enter=False)], 0.0, SCANNER_GAP)
    assert passed_through(events) == ["tab"]
    assert passed_through(detector.poll(last + 1)) == ["a", "b", "c"]


def test_a_burst_that_starts_mid_typing() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, keys_for("ab", enter=False), start=0.0, gap=TYPING_GAP)
    burst, last = feed(detector, keys_for("4006381333931"), start=last + 0.15, gap=SCANNER_GAP)
    typed, last = feed(detector, keys_for("c", enter=False), start=last + 0.2, gap=TYPING_GAP)
    events += burst + typed + detector.poll(last + 1)
    kinds = [type(event) for event in events]
    assert kinds == [PassThrough, PassThrough, ScanDetected, PassThrough]
    assert passed_through(events) == ["a", "b", "c"]
    assert [event.data for event in events if isinstance(event, ScanDetected)] == ["4006381333931"]


def test_fast_rollover_typing_shorter_than_a_scan_passes_through() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, keys_for("th", enter=False), start=0.0, gap=0.02)
    events += detector.feed("e", "e", last + 0.09) + detector.poll(last + 1)
    assert passed_through(events) == ["t", "h", "e"]


def test_a_held_down_key_repeating_fast_is_typing_not_a_cut_off_scan() -> None:
    detector = WedgeDetector()
    events, last = feed(detector, keys_for("0" * 12, enter=False), start=0.0, gap=0.03)
    events += detector.poll(last + 1)
    assert passed_through(events) == ["0"] * 12
    assert detector.stats.snapshot().rejected == 0


def test_enter_on_its_own_passes_straight_through() -> None:
    detector = WedgeDetector()
    assert detector.feed("enter", "\r", 1.0) == [PassThrough((KeyPress("enter", "\r", 1.0),))]


def test_an_over_long_burst_is_dropped_once_and_held_keys_stay_bounded() -> None:
    detector = WedgeDetector(max_length=8)
    keys = keys_for("1234567890" * 3)
    events, last = feed(detector, keys, start=0.0, gap=SCANNER_GAP)
    events += detector.poll(last + 1)
    assert all(isinstance(event, BurstDropped) for event in events)
    assert all(len(event.keys) <= 9 for event in events if isinstance(event, BurstDropped))
    assert sum(len(event.keys) for event in events if isinstance(event, BurstDropped)) == 31
    assert detector.stats.snapshot().rejected == 1
    # The next scan is read normally.
    more, last = feed(detector, keys_for("40063813"), start=last + 1, gap=SCANNER_GAP)
    assert [event.data for event in more if isinstance(event, ScanDetected)] == ["40063813"]


# ------------------------------------------------------------------------------------------
# Property: the detector partitions the key stream; it never loses, duplicates or reorders
# ------------------------------------------------------------------------------------------

_KEYS = st.sampled_from([("1", "1"), ("a", "a"), ("A", "A"), ("space", " "), ENTER, TAB, GS, UP])
# Gaps in whole milliseconds: scanner-fast, around the threshold, and human-slow.
_GAPS_MS = st.one_of(st.integers(1, 15), st.integers(30, 40), st.integers(50, 400))


@given(
    st.lists(st.tuples(_KEYS, _GAPS_MS, st.one_of(st.none(), st.integers(0, 400))), max_size=80),
    st.integers(1, 6),
    st.integers(6, 20),
)
def test_no_key_is_ever_lost_or_duplicated(
    steps: list[tuple[Key, int, int | None]], min_length: int, max_length: int
) -> None:
    detector = WedgeDetector(min_length=min_length, max_length=max_length)
    fed: list[KeyPress] = []
    events: list[WedgeEvent] = []
    at_ms = 0
    for (key, character), gap_ms, poll_after_ms in steps:
        at_ms += gap_ms
        fed.append(KeyPress(key, character, at_ms / 1000))
        events += detector.feed(key, character, at_ms / 1000)
        if poll_after_ms is not None:  # a UI timer firing before the next key
            at_ms += poll_after_ms
            events += detector.poll(at_ms / 1000)
    events += detector.poll(FAR_FUTURE)

    assert [press for event in events for press in event.keys] == fed
    assert detector.next_deadline() is None
    for event in events:
        if isinstance(event, ScanDetected):
            *body, end = event.keys
            assert end.key == "enter"
            assert len(body) >= min_length
            assert event.data == "".join(press.character or "" for press in body)
            times = [press.at for press in event.keys]
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert all(gap <= detector.max_gap_s for gap in gaps)
    snapshot = detector.stats.snapshot()
    assert snapshot.accepted == sum(isinstance(event, ScanDetected) for event in events)
    assert snapshot.rejected == sum(
        isinstance(event, BurstDropped) and not event.continuation for event in events
    )
