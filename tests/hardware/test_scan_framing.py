"""Serial framing: every terminator, prefix/suffix and AIM id variant; garbage never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.scanners.framing import (
    Frame,
    Framer,
    FrameResult,
    FramingConfig,
    Rejected,
    Terminator,
    parse_escapes,
)

EAN = "4006381333931"


def frames(results: list[FrameResult]) -> list[str]:
    return [result.text for result in results if isinstance(result, Frame)]


def codes(results: list[FrameResult]) -> list[str]:
    return [result.code for result in results if isinstance(result, Rejected)]


def feed_all(framer: Framer, *chunks: bytes, now: float = 0.0) -> list[FrameResult]:
    results: list[FrameResult] = []
    for chunk in chunks:
        results += framer.feed(chunk, now)
    return results


@pytest.mark.parametrize(
    ("terminator", "stream"),
    [
        (Terminator.CR, b"111\r222\r"),
        (Terminator.LF, b"111\n222\n"),
        (Terminator.CRLF, b"111\r\n222\r\n"),
        (Terminator.ANY, b"111\r222\n"),
        (Terminator.ANY, b"111\r\n222\r\n"),
        # A CR LF scanner read in CR or LF mode: the other half is trimmed, not kept.
        (Terminator.CR, b"111\r\n222\r\n"),
        (Terminator.LF, b"111\r\n222\r\n"),
    ],
)
def test_terminators(terminator: Terminator, stream: bytes) -> None:
    framer = Framer(FramingConfig(terminator=terminator))
    assert frames(feed_all(framer, stream)) == ["111", "222"]
    # Byte by byte gives the same frames: chunk boundaries never matter.
    framer = Framer(FramingConfig(terminator=terminator))
    assert frames(feed_all(framer, *(bytes([byte]) for byte in stream))) == ["111", "222"]


def test_crlf_split_across_reads() -> None:
    framer = Framer(FramingConfig(terminator=Terminator.CRLF))
    assert framer.feed(b"123\r", 0.0) == []
    assert framer.feed(b"\n", 0.0) == [Frame("123")]


def test_blank_lines_are_ignored() -> None:
    assert feed_all(Framer(), b"\r\n\r\n\n\r") == []


def test_prefix_and_suffix_are_stripped() -> None:
    framer = Framer(FramingConfig(prefix="\x02", suffix="\x03", terminator=Terminator.CR))
    assert feed_all(framer, b"\x02" + EAN.encode() + b"\x03\r") == [Frame(EAN)]


def test_a_frame_without_the_configured_prefix_or_suffix_is_rejected() -> None:
    framer = Framer(FramingConfig(prefix="\x02", suffix="\x03"))
    results = feed_all(framer, b"3931\x03\r", b"\x02" + EAN.encode() + b"\r", b"\x02\x03\r")
    assert codes(results) == ["no_prefix", "no_suffix", "empty"]
    assert all("scan again" in result.reason for result in results if isinstance(result, Rejected))


@pytest.mark.parametrize(
    ("stream", "text", "aim_id"),
    [
        (b"]E04006381333931\r", EAN, "]E0"),
        (b"]C1(01)09501101530003\r", "(01)09501101530003", "]C1"),
        (b"]Q1LT1.k1.9826\r", "LT1.k1.9826", "]Q1"),
        (b"]d2\x1d0109501101530003\r", "\x1d0109501101530003", "]d2"),
        (b"4006381333931\r", EAN, None),  # no identifier: the data is kept as is
        (b"]4006381333931\r", "]4006381333931", None),  # not an identifier
    ],
)
def test_aim_symbology_identifiers_are_stripped(
    stream: bytes, text: str, aim_id: str | None
) -> None:
    framer = Framer(FramingConfig(strip_aim=True))
    assert feed_all(framer, stream) == [Frame(text, aim_id)]


def test_aim_identifiers_stay_unless_asked_and_come_after_the_prefix() -> None:
    assert frames(feed_all(Framer(), b"]E0" + EAN.encode() + b"\r")) == ["]E0" + EAN]
    framer = Framer(FramingConfig(prefix="#", suffix="!", strip_aim=True))
    assert feed_all(framer, b"#]E0" + EAN.encode() + b"!\r") == [Frame(EAN, "]E0")]


def test_non_utf8_is_rejected_as_not_text() -> None:
    results = feed_all(Framer(), b"\xff\xfe\x80abc\r", EAN.encode() + b"\r")
    assert codes(results) == ["not_text"]
    assert frames(results) == [EAN]
    rejected = results[0]
    assert isinstance(rejected, Rejected)
    assert "baud rate" in rejected.reason
    assert rejected.preview.endswith("abc")


def test_control_characters_are_kept_for_the_parser() -> None:
    assert frames(feed_all(Framer(), b"01\x1d17\x00\x07\r")) == ["01\x1d17\x00\x07"]


def test_a_frame_that_stops_is_rejected_as_incomplete_after_the_timeout() -> None:
    framer = Framer(FramingConfig(frame_timeout_s=0.5))
    assert framer.feed(b"40063813", 10.0) == []
    assert framer.expire(10.4) == []
    [rejected] = framer.expire(10.6)
    assert isinstance(rejected, Rejected)
    assert rejected.code == "incomplete"
    assert rejected.preview == "40063813"
    assert framer.expire(20.0) == []


def test_a_late_chunk_first_rejects_the_stale_partial_frame() -> None:
    framer = Framer(FramingConfig(frame_timeout_s=0.5))
    framer.feed(b"4006", 0.0)
    results = framer.feed(EAN.encode() + b"\r", 5.0)
    assert codes(results) == ["incomplete"]
    assert frames(results) == [EAN]


def test_slow_bytes_within_the_timeout_still_make_one_frame() -> None:
    framer = Framer(FramingConfig(frame_timeout_s=0.5))
    results = [
        result
        for at, byte in enumerate(EAN.encode())
        for result in framer.feed(bytes([byte]), at * 0.4)
    ]
    results += framer.feed(b"\r", len(EAN) * 0.4)
    assert results == [Frame(EAN)]


def test_flush_reports_a_partial_frame() -> None:
    framer = Framer()
    framer.feed(b"123", 0.0)
    assert codes(framer.flush()) == ["incomplete"]
    assert framer.flush() == []


def test_a_10kb_line_is_rejected_once_and_the_next_frame_recovered() -> None:
    framer = Framer(FramingConfig(max_length=512))
    garbage = b"x" * 10_000
    results = feed_all(framer, *(garbage[i : i + 700] for i in range(0, 10_000, 700)))
    results += feed_all(framer, b"tail of it\r", EAN.encode() + b"\r")
    assert codes(results) == ["too_long"]
    assert frames(results) == [EAN]
    rejected = results[0]
    assert isinstance(rejected, Rejected)
    assert "512" in rejected.reason
    assert len(rejected.preview) <= 40


def test_an_over_long_line_in_one_chunk_is_rejected_too() -> None:
    framer = Framer(FramingConfig(max_length=16, terminator=Terminator.CRLF))
    results = feed_all(framer, b"y" * 40 + b"\r\n" + EAN.encode() + b"\r\n")
    assert codes(results) == ["too_long"]
    assert frames(results) == [EAN]


def test_an_over_long_line_ended_by_a_split_crlf_resynchronises() -> None:
    framer = Framer(FramingConfig(max_length=16, terminator=Terminator.CRLF))
    results = feed_all(framer, b"y" * 40 + b"\r", b"\n" + EAN.encode() + b"\r\n")
    assert codes(results) == ["too_long"]
    assert frames(results) == [EAN]


def test_frames_of_exactly_max_length_pass() -> None:
    for terminator in Terminator:
        framer = Framer(FramingConfig(max_length=13, terminator=terminator))
        end = b"\r\n" if terminator in (Terminator.CRLF, Terminator.ANY) else b"\r"
        if terminator is Terminator.LF:
            end = b"\n"
        assert frames(feed_all(framer, *(bytes([b]) for b in EAN.encode() + end))) == [EAN]


def test_parse_escapes() -> None:
    assert parse_escapes(r"\x02") == "\x02"
    assert parse_escapes(r"<\r\n\t\0\\>") == "<\r\n\t\0\\>"
    assert parse_escapes(r"C:\path\xZZ") == r"C:\path\xZZ"


def test_bad_settings_fail_at_start_up() -> None:
    with pytest.raises(ValueError, match="max_length"):
        FramingConfig(max_length=0)
    with pytest.raises(ValueError, match="frame_timeout_s"):
        FramingConfig(frame_timeout_s=0)


# ------------------------------------------------------------------------------------------
# Fuzz
# ------------------------------------------------------------------------------------------

_CONFIGS = st.builds(
    FramingConfig,
    terminator=st.sampled_from(Terminator),
    prefix=st.sampled_from(["", "\x02", "#"]),
    suffix=st.sampled_from(["", "\x03"]),
    strip_aim=st.booleans(),
    max_length=st.integers(1, 64),
)


@given(_CONFIGS, st.lists(st.tuples(st.binary(max_size=200), st.floats(0, 2)), max_size=30))
def test_random_bytes_never_raise(config: FramingConfig, chunks: list[tuple[bytes, float]]) -> None:
    framer = Framer(config)
    now = 0.0
    for chunk, pause in chunks:
        now += pause
        for result in framer.feed(chunk, now) + framer.expire(now):
            assert isinstance(result, Frame | Rejected)
            if isinstance(result, Frame):
                assert result.text
                assert len(result.text.encode()) <= config.max_length
            else:
                assert result.reason
                assert len(result.preview) <= 40
    framer.flush()


_TERMINATOR_BYTES = {
    Terminator.CR: b"\r",
    Terminator.LF: b"\n",
    Terminator.CRLF: b"\r\n",
    Terminator.ANY: b"\r\n",
}
_CODE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1
).filter(lambda text: text.strip("\r\n") == text and len(text.encode()) <= 48)


@given(
    st.sampled_from(Terminator),
    st.sampled_from([("", ""), ("\x02", "\x03")]),
    st.lists(st.tuples(st.binary(max_size=120), _CODE_TEXT), max_size=12),
    st.data(),
)
def test_valid_frames_between_garbage_are_recovered(
    terminator: Terminator,
    wrapping: tuple[str, str],
    pieces: list[tuple[bytes, str]],
    data: st.DataObject,
) -> None:
    prefix, suffix = wrapping
    end = _TERMINATOR_BYTES[terminator]
    stream = b"".join(
        garbage + end + (prefix + code + suffix).encode() + end for garbage, code in pieces
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [
        stream[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True)
    ]
    framer = Framer(
        FramingConfig(terminator=terminator, prefix=prefix, suffix=suffix, max_length=64)
    )
    texts = frames(feed_all(framer, *chunks))
    # Every real code comes out, in order (garbage may add frames of its own in between).
    remaining = iter(texts)
    assert all(any(text == code for text in remaining) for _, code in pieces)
