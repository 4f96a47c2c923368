"""The codes parser: worked examples, round trips, error-detection guarantees, robustness.

The detection tests assert exactly what each check scheme guarantees (docs/codes.md), no more:
where a scheme has a known blind spot, a test pins the blind spot down too, so the docs and
the code cannot drift apart.
"""

from __future__ import annotations

import ast
import random
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.codes import (
    VOUCHER_ALPHABET,
    CardEntry,
    CodeConfig,
    GiftCard,
    LoyaltyCard,
    MemberQR,
    ParsedCode,
    Product,
    ReceiptRef,
    Symbology,
    Unrecognised,
    Voucher,
    card_number_from_serial,
    format_receipt_barcode,
    generate_card_number,
    generate_gift_card_number,
    generate_voucher_code,
    gtin_check_digit,
    gtin_valid,
    luhn_check_digit,
    luhn_valid,
    make_member_qr,
    mask_card_number,
    member_qr_mac,
    mod97_check_digits,
    parse_scan,
    safe_preview,
    voucher_check_symbol,
)

KEY_1 = b"k1-program-secret-0123456789abcdef"
KEY_2 = b"k2-program-secret-fedcba9876543210"
CONFIG = CodeConfig(qr_keys={"k1": KEY_1, "k2": KEY_2})
NOW = 1_700_000_000
CARD = card_number_from_serial(CONFIG, 12_345_678_901)  # 9826 12345678901 + Luhn 8

seeds = st.integers(min_value=0, max_value=2**64)
any_text = st.text(st.characters(codec=None, exclude_categories=()))
receipt_terminals = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=16)
receipt_seqs = st.integers(min_value=1, max_value=10**18 - 1)


def parse(data: str) -> ParsedCode:
    return parse_scan(data, CONFIG, now_unix=NOW)


def reason_of(data: str, **kwargs: int) -> str:
    result = parse_scan(data, CONFIG, now_unix=kwargs.get("now", NOW))
    assert isinstance(result, Unrecognised), result
    return result.reason


def substitutions(code: str, positions: range, alphabet: str) -> list[str]:
    return [
        code[:i] + other + code[i + 1 :]
        for i in positions
        for other in alphabet
        if other != code[i]
    ]


def transpose(code: str, i: int) -> str:
    return code[:i] + code[i + 1] + code[i] + code[i + 2 :]


def random_gtin(rng: random.Random, length: int) -> str:
    data = "".join(rng.choice(string.digits) for _ in range(length - 1))
    return data + gtin_check_digit(data)


# ============================================================================================
# Worked examples
# ============================================================================================


@pytest.mark.parametrize(
    ("scan", "symbology"),
    [
        ("4006381333931", Symbology.EAN13),
        ("96385074", Symbology.EAN8),
        ("036000291452", Symbology.UPCA),
        ("0036000291452", Symbology.EAN13),  # UPC-A sent as EAN-13 stays as scanned
    ],
)
def test_known_product_barcodes(scan: str, symbology: Symbology) -> None:
    assert parse(scan) == Product(gtin=scan, symbology=symbology)
    assert gtin_valid(scan)
    assert gtin_check_digit(scan[:-1]) == scan[-1]


@pytest.mark.parametrize(
    ("scan", "name"),
    [("4006381333932", "EAN-13"), ("96385075", "EAN-8"), ("036000291453", "UPC-A")],
)
def test_product_with_wrong_check_digit_names_the_symbology_and_is_not_fixed(
    scan: str, name: str
) -> None:
    reason = reason_of(scan)
    assert reason.startswith(f"{name} check digit is wrong")
    assert "rescan" in reason


def test_luhn_worked_example() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert not luhn_valid("7")
    assert not luhn_valid("7992739871x")
    assert not luhn_valid("٧٩٩٢٧٣٩٨٧١٣")  # Arabic-Indic digits are digits, but not ours
    with pytest.raises(ValueError, match="ASCII digits"):
        luhn_check_digit("12a")


def test_card_from_serial_is_prefix_padded_serial_and_luhn() -> None:
    assert CARD == "9826123456789018"
    assert card_number_from_serial(CONFIG, 7) == "9826000000000078"
    assert luhn_valid(card_number_from_serial(CONFIG, 7))
    with pytest.raises(ValueError, match="serial"):
        card_number_from_serial(CONFIG, 10**11)
    with pytest.raises(ValueError, match="serial"):
        card_number_from_serial(CONFIG, -1)


def test_loyalty_card_barcode_and_keyed_in_groups() -> None:
    assert parse(CARD) == LoyaltyCard(CARD, CardEntry.BARCODE, expiry=None)
    for keyed in ("9826 1234 5678 9018", "9826-1234-5678-9018", " 9826  1234 5678-9018\t"):
        assert parse(keyed) == LoyaltyCard(CARD, CardEntry.KEYED, expiry=None)


def test_loyalty_card_with_wrong_check_digit() -> None:
    assert reason_of("9826123456789012") == (
        "loyalty card check digit is wrong — rescan or key the number"
    )
    assert reason_of("9826 1234 5678 9012").startswith("loyalty card check digit is wrong")


def test_card_number_keyed_with_a_digit_missing_says_so() -> None:
    assert reason_of(CARD[:-1]).startswith("loyalty card number has 15 digits but should have 16")


def test_gift_card() -> None:
    body = "603912345678901234"
    gift = body + luhn_check_digit(body)
    assert parse(gift) == GiftCard(gift, CardEntry.BARCODE)
    wrong = gift[:-1] + str((int(gift[-1]) + 1) % 10)
    assert reason_of(wrong).startswith("gift card check digit is wrong")


@pytest.mark.parametrize(
    ("track", "expected"),
    [
        (f";{CARD}=2612101?", LoyaltyCard(CARD, CardEntry.MAGSTRIPE, "2612")),
        (f";{CARD}=2612101?:", LoyaltyCard(CARD, CardEntry.MAGSTRIPE, "2612")),  # LRC
        (f";{CARD}==101?", LoyaltyCard(CARD, CardEntry.MAGSTRIPE, None)),  # no expiry
        (f";{CARD}=?", LoyaltyCard(CARD, CardEntry.MAGSTRIPE, None)),
        (  # track 1 then track 2, as many keyboard-wedge readers send it
            f"%B{CARD}^MEMBER/ANNA^2612101?;{CARD}=2612101?\r\n",
            LoyaltyCard(CARD, CardEntry.MAGSTRIPE, "2612"),
        ),
        (
            ";6039123456789012349=2701?",
            GiftCard("6039123456789012349", CardEntry.MAGSTRIPE),
        ),
    ],
)
def test_magstripe_track2(track: str, expected: ParsedCode) -> None:
    assert luhn_valid("6039123456789012349")
    assert parse(track) == expected


def test_bank_card_swipe_is_refused_without_showing_the_card_number() -> None:
    pan = "4111111111111111"
    result = parse(f";{pan}=29122010000012345678?")
    assert isinstance(result, Unrecognised)
    assert result.reason.startswith("this card is not a loyalty or gift card")
    assert pan not in result.reason + result.preview
    assert "1111" not in result.reason
    assert result.preview == ";••••••••••••1111=…?"  # expiry and discretionary data hidden


def test_bank_card_track1_preview_hides_name_and_number() -> None:
    result = parse("%B4111111111111111^DOE/JOHN^2912201?;4111111111111111=2912201?")
    assert isinstance(result, Unrecognised)
    assert "DOE" not in result.preview
    assert "41111111" not in result.preview


@pytest.mark.parametrize(
    "track",
    [
        f";{CARD}2612101?",  # no field separator
        f";{CARD}=2612101",  # no end sentinel
        ";",
        f";{CARD}=2613101?",  # month 13: a misread, not a date
        f";{CARD}=26?",
        f";{CARD}=2612101?;123456=?",  # more than one LRC character after the sentinel
        f"%B{CARD}^MEMBER/ANNA^2612101?",  # track 1 only
        f";{CARD}x=2612?",
    ],
)
def test_malformed_track_data_asks_to_swipe_again(track: str) -> None:
    assert reason_of(track) == "card read incompletely — swipe again"


def test_empty_scans() -> None:
    for blank in ("", "   ", "\r\n", "\t\r"):
        result = parse(blank)
        assert isinstance(result, Unrecognised)
        assert result.reason.startswith("empty scan")


def test_unknown_input_is_unrecognised() -> None:
    for junk in ("hello", "12345", "]C1400638133393", "https://example.com/x", "4 006381 333931"):
        assert reason_of(junk).startswith("not a code this till knows")


def test_config_decides_when_a_card_length_collides_with_a_gtin_length() -> None:
    config = CodeConfig(card_prefix="400", card_length=13)
    ean = "4006381333931"
    assert not luhn_valid(ean)
    result = parse_scan(ean, config)
    assert isinstance(result, Unrecognised)
    assert result.reason.startswith("loyalty card check digit is wrong")
    card = card_number_from_serial(config, 5)
    assert parse_scan(card, config) == LoyaltyCard(card, CardEntry.BARCODE)


# ============================================================================================
# Vouchers
# ============================================================================================


def test_voucher_worked_example() -> None:
    body = "23456789ABC"
    check = voucher_check_symbol(body)
    values = [VOUCHER_ALPHABET.index(s) for s in body + check]
    assert sum(i * v for i, v in enumerate(values, 1)) % 31 == 0
    code = f"V-2345-6789-ABC{check}"
    assert parse(code) == Voucher(code)
    assert parse(f"v2345 6789 abc{check.lower()}") == Voucher(code)
    assert parse(f"  V-23456789ABC{check}\n") == Voucher(code)


@pytest.mark.parametrize(("bad", "shown"), [("O", "'O'"), ("0", "'0'"), ("l", "'l'"), ("I", "'I'")])
def test_voucher_with_confusable_character_names_it(bad: str, shown: str) -> None:
    reason = reason_of(f"V-2345-6789-AB{bad}D")
    assert reason.startswith(f"{shown} is never used in voucher codes")


def test_voucher_with_foreign_character_names_it_safely() -> None:
    assert reason_of("V-2345-6789-AB#D").startswith("'#' cannot be part of a voucher code")
    # Non-ASCII letters that upper-case into the alphabet ('ſ' -> 'S') are not accepted.
    assert reason_of("V-2345-6789-ABſD").startswith("'ſ' cannot be part")
    assert reason_of("V-2345-6789-AB\x00D").startswith("'\\x00' cannot be part")


def test_voucher_with_wrong_length_or_check() -> None:
    assert "has 11 symbols after the V but needs 12" in reason_of("V-2345-6789-ABC")
    code = generate_voucher_code(random.Random(3))
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert reason_of(wrong).startswith("voucher code is mistyped")


# ============================================================================================
# Receipts
# ============================================================================================


def test_receipt_worked_example() -> None:
    # R=27 T=29 0=00 1=01 -=36 4=04 2=02 -> 27290001360402; 98 - (n * 100 mod 97) = 2
    assert mod97_check_digits("RT01-42") == "02"
    assert format_receipt_barcode("T01", 42) == "RT01-42-02"
    assert parse("RT01-42-02") == ReceiptRef(terminal="T01", seq=42)
    assert parse("rt01-42-02") == ReceiptRef(terminal="T01", seq=42)  # scanner in caps lock


@pytest.mark.parametrize(
    "scan",
    ["RT01-042-41", "R-42-02", "RT01-42-0", "RT01-0-02", "RT01-42-AB", "R" + "A" * 17 + "-1-00"],
)
def test_malformed_receipts(scan: str) -> None:
    assert reason_of(scan).startswith("receipt barcode is damaged")


def test_receipt_with_wrong_check_digits() -> None:
    assert reason_of("RT01-42-03").startswith("receipt barcode check digits are wrong")


def test_format_receipt_barcode_refuses_what_it_cannot_encode() -> None:
    for terminal, seq in (("t01", 1), ("", 1), ("A" * 17, 1), ("T-1", 1), ("T01", 0)):
        with pytest.raises(ValueError, match="must be"):
            format_receipt_barcode(terminal, seq)


# ============================================================================================
# Member QR
# ============================================================================================


def test_member_qr_round_trip() -> None:
    payload = make_member_qr(CARD, "k1", KEY_1, NOW)
    prefix, key_id, card, issued, mac = payload.split(".")
    assert (prefix, key_id, card, issued) == ("LT1", "k1", CARD, str(NOW))
    assert len(mac) == 20
    assert set(mac) <= set(string.ascii_uppercase + "234567")
    assert parse(payload) == MemberQR(card_number=CARD, issued_at=NOW, key_id="k1")


def test_member_qr_accepted_at_both_edges_of_the_window() -> None:
    oldest = make_member_qr(CARD, "k2", KEY_2, NOW - CONFIG.qr_max_age_s)
    assert isinstance(parse(oldest), MemberQR)
    newest = make_member_qr(CARD, "k2", KEY_2, NOW + CONFIG.qr_max_skew_s)
    assert isinstance(parse(newest), MemberQR)


def test_member_qr_expired_one_second_past_the_window() -> None:
    payload = make_member_qr(CARD, "k1", KEY_1, NOW - CONFIG.qr_max_age_s - 1)
    assert reason_of(payload) == (
        "member code has expired — ask the member to refresh the code in the app"
    )


def test_member_qr_from_the_future() -> None:
    payload = make_member_qr(CARD, "k1", KEY_1, NOW + CONFIG.qr_max_skew_s + 1)
    assert reason_of(payload).startswith("member code is dated in the future")


def test_member_qr_tampered() -> None:
    payload = make_member_qr(CARD, "k1", KEY_1, NOW)
    forged_mac = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    assert reason_of(forged_mac).startswith("member code was not issued by this program")
    # Replaying an old screenshot with a fresh timestamp breaks the MAC, not the clock check.
    old = make_member_qr(CARD, "k1", KEY_1, NOW - 3600)
    refreshed = old.replace(f".{NOW - 3600}.", f".{NOW}.")
    assert reason_of(refreshed).startswith("member code was not issued by this program")
    other_card = card_number_from_serial(CONFIG, 1)
    swapped = payload.replace(CARD, other_card)
    assert reason_of(swapped).startswith("member code was not issued by this program")
    # Signed with a key the till does not hold under that id.
    wrong_key = make_member_qr(CARD, "k1", KEY_2, NOW)
    assert reason_of(wrong_key).startswith("member code was not issued by this program")


def test_member_qr_unknown_key_and_other_versions() -> None:
    unknown = make_member_qr(CARD, "k9", KEY_1, NOW)
    assert reason_of(unknown).startswith("member code is signed with a key this till does not")
    newer = "LT2." + make_member_qr(CARD, "k1", KEY_1, NOW)[4:]
    assert reason_of(newer).startswith("member code comes from a newer app version")
    assert reason_of("LT0.k1.x").startswith("member code is damaged")


def test_member_qr_damaged_or_without_clock() -> None:
    payload = make_member_qr(CARD, "k1", KEY_1, NOW)
    for damaged in (payload[:-1], payload + "A", payload.lower().replace("lt1", "LT1"), "LT1."):
        assert reason_of(damaged).startswith("member code is damaged")
    result = parse_scan(payload, CONFIG)  # no now_unix
    assert isinstance(result, Unrecognised)
    assert "no clock time" in result.reason


@pytest.mark.parametrize(
    "card",
    [
        "9826123456789012",  # Luhn wrong
        "4111111111111111",  # another issuer's range
        "982612345678903",  # too short
    ],
)
def test_member_qr_with_a_number_that_is_not_a_loyalty_card(card: str) -> None:
    payload = make_member_qr(card, "k1", KEY_1, NOW)
    assert reason_of(payload).startswith("member code does not hold a valid loyalty card")


def test_make_member_qr_refuses_bad_fields() -> None:
    for args in (
        (CARD, "k.1", KEY_1, NOW),
        ("98261234x", "k1", KEY_1, NOW),
        (CARD, "k1", KEY_1, -1),
        (CARD, "k1", b"", NOW),
    ):
        with pytest.raises(ValueError, match="must"):
            make_member_qr(*args)


# ============================================================================================
# Round trips: generate -> parse
# ============================================================================================


@given(seeds)
def test_generated_cards_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    card = generate_card_number(CONFIG, rng)
    assert len(card) == 16
    assert parse(card) == LoyaltyCard(card, CardEntry.BARCODE)
    keyed = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert parse(keyed) == LoyaltyCard(card, CardEntry.KEYED)
    assert parse(f";{card}=2905101?") == LoyaltyCard(card, CardEntry.MAGSTRIPE, "2905")
    gift = generate_gift_card_number(CONFIG, rng)
    assert len(gift) == 19
    assert parse(gift) == GiftCard(gift, CardEntry.BARCODE)
    assert parse(f";{gift}=?") == GiftCard(gift, CardEntry.MAGSTRIPE)


@given(st.integers(min_value=0, max_value=10**11 - 1))
def test_cards_from_serial_round_trip(serial: int) -> None:
    card = card_number_from_serial(CONFIG, serial)
    assert card.startswith("9826")
    assert int(card[4:15]) == serial
    assert parse(card) == LoyaltyCard(card, CardEntry.BARCODE)


@given(seeds)
def test_generated_vouchers_round_trip(seed: int) -> None:
    code = generate_voucher_code(random.Random(seed))
    assert len(code) == 16
    assert code[0] == "V"
    assert code[1::5] == "---"
    assert parse(code) == Voucher(code)
    assert parse(code.lower().replace("-", "")) == Voucher(code)


@given(receipt_terminals, receipt_seqs)
def test_receipts_round_trip(terminal: str, seq: int) -> None:
    assert parse(format_receipt_barcode(terminal, seq)) == ReceiptRef(terminal, seq)


@given(
    seeds,
    st.sampled_from(["k1", "k2"]),
    st.integers(min_value=-CONFIG.qr_max_skew_s, max_value=CONFIG.qr_max_age_s),
)
def test_member_qr_round_trip_within_the_window(seed: int, key_id: str, age: int) -> None:
    card = generate_card_number(CONFIG, random.Random(seed))
    key = CONFIG.qr_keys[key_id]
    payload = make_member_qr(card, key_id, key, NOW - age)
    assert parse(payload) == MemberQR(card, NOW - age, key_id)
    assert payload.endswith(member_qr_mac(key, key_id, card, NOW - age))


# ============================================================================================
# Error detection: single substitutions
# ============================================================================================


@given(seeds)
def test_every_single_digit_substitution_of_a_card_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    for code, kind in (
        (generate_card_number(CONFIG, rng), LoyaltyCard),
        (generate_gift_card_number(CONFIG, rng), GiftCard),
    ):
        for wrong in substitutions(code, range(len(code)), string.digits):
            result = parse(wrong)
            assert isinstance(result, Unrecognised), (code, wrong, result)
            assert not isinstance(result, kind)


@given(seeds, st.sampled_from([8, 12, 13]))
def test_every_single_digit_substitution_of_a_gtin_is_caught(seed: int, length: int) -> None:
    gtin = random_gtin(random.Random(seed), length)
    assert isinstance(parse(gtin), Product)
    for wrong in substitutions(gtin, range(length), string.digits):
        assert isinstance(parse(wrong), Unrecognised), (gtin, wrong)


@given(seeds)
def test_every_single_symbol_substitution_of_a_voucher_is_caught(seed: int) -> None:
    code = generate_voucher_code(random.Random(seed))
    symbol_positions = [i for i in range(2, 16) if code[i] != "-"]
    for i in symbol_positions:
        for other in VOUCHER_ALPHABET + "01ILO#":
            if other != code[i]:
                wrong = code[:i] + other + code[i + 1 :]
                assert isinstance(parse(wrong), Unrecognised), (code, wrong)


@given(receipt_terminals, receipt_seqs)
def test_every_receipt_substitution_is_caught(terminal: str, seq: int) -> None:
    """Every character expands to two digits, so any substitution moves n by a non-zero
    multiple of a power of 100 below 97 * 100^k: never a multiple of 97."""
    code = format_receipt_barcode(terminal, seq)
    seq_and_check = range(len(terminal) + 2, len(code))
    wrongs = substitutions(code, seq_and_check, string.digits)
    wrongs += substitutions(
        code, range(1, len(terminal) + 1), string.digits + string.ascii_uppercase
    )
    for wrong in wrongs:
        assert not isinstance(parse(wrong), ReceiptRef), (code, wrong)


# ============================================================================================
# Error detection: adjacent transpositions
# ============================================================================================


@given(seeds)
def test_luhn_catches_every_adjacent_transposition_except_09_90(seed: int) -> None:
    card = generate_card_number(CONFIG, random.Random(seed))
    for i in range(len(card) - 1):
        pair = card[i : i + 2]
        if pair[0] == pair[1]:
            continue
        result = parse(transpose(card, i))
        if pair in ("09", "90") and i >= len(CONFIG.card_prefix):
            assert result == LoyaltyCard(transpose(card, i), CardEntry.BARCODE)  # the blind spot
        else:
            assert not isinstance(result, LoyaltyCard), (card, i)


def test_luhn_blind_spot_example() -> None:
    assert luhn_valid("9826000000000904")
    assert luhn_valid("9826000000000094")


@given(seeds, st.sampled_from([8, 12, 13]))
def test_gtin_catches_every_adjacent_transposition_except_difference_5(
    seed: int, length: int
) -> None:
    gtin = random_gtin(random.Random(seed), length)
    for i in range(length - 1):
        a, b = int(gtin[i]), int(gtin[i + 1])
        if a == b:
            continue
        swapped = transpose(gtin, i)
        assert gtin_valid(swapped) == (abs(a - b) == 5), (gtin, i)


@given(seeds)
def test_voucher_catches_every_transposition(seed: int) -> None:
    code = generate_voucher_code(random.Random(seed))
    symbols = code.replace("-", "")[1:]
    for i in range(len(symbols)):
        for j in range(i + 1, len(symbols)):  # adjacent and jump transpositions alike
            if symbols[i] == symbols[j]:
                continue
            s = list(symbols)
            s[i], s[j] = s[j], s[i]
            assert isinstance(parse("V" + "".join(s)), Unrecognised), (code, i, j)


@given(receipt_terminals, receipt_seqs)
def test_every_adjacent_receipt_transposition_is_caught(terminal: str, seq: int) -> None:
    code = format_receipt_barcode(terminal, seq)
    for i in range(len(code) - 1):
        if code[i] == code[i + 1]:
            continue
        swapped = transpose(code, i)
        assert not isinstance(parse(swapped), ReceiptRef), (code, swapped)


# ============================================================================================
# Robustness: never raises, safe previews
# ============================================================================================


def _check_any_result(result: ParsedCode) -> None:
    assert result.kind in {
        "loyalty_card",
        "gift_card",
        "product",
        "member_qr",
        "voucher",
        "receipt",
        "unrecognised",
    }
    if isinstance(result, Unrecognised):
        assert result.reason
        assert len(result.preview) <= 40
        result.preview.encode("utf-8")  # no lone surrogates survive
        assert "\n" not in result.preview
        assert "\r" not in result.preview


@given(any_text)
def test_parse_scan_never_raises_on_any_text(data: str) -> None:
    _check_any_result(parse(data))
    _check_any_result(parse_scan(data, CodeConfig()))


@given(st.binary().map(lambda raw: raw.decode("latin-1")))
def test_parse_scan_never_raises_on_raw_bytes(data: str) -> None:
    _check_any_result(parse(data))


@given(st.sampled_from(["9", ";", "V-", "R", "LT1.", "%B", " ", "\ud800", "٣"]), st.integers(1, 4))
def test_parse_scan_never_raises_on_huge_inputs(prefix: str, scale: int) -> None:
    huge = prefix * (10_000 * scale // len(prefix))
    result = parse(huge)
    assert isinstance(result, Unrecognised)
    _check_any_result(result)


@st.composite
def mutated_codes(draw: st.DrawFn) -> str:
    """Valid codes of every kind with random edits: reaches the deep branches of each format."""
    rng = random.Random(draw(seeds))
    card = generate_card_number(CONFIG, rng)
    code = draw(
        st.sampled_from(
            [
                card,
                generate_gift_card_number(CONFIG, rng),
                f";{card}=2612101?",
                f"%B{card}^A/B^2612?;{card}=2612?",
                generate_voucher_code(rng),
                format_receipt_barcode("T01", rng.randrange(1, 10**6)),
                make_member_qr(card, "k1", KEY_1, NOW),
                random_gtin(rng, 13),
            ]
        )
    )
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(code)))
        insert = draw(st.text(max_size=3, alphabet=st.characters(codec=None)))
        cut = draw(st.integers(0, 2))
        code = code[:i] + insert + code[i + cut :]
    return code


@given(mutated_codes())
def test_parse_scan_never_raises_on_near_miss_codes(data: str) -> None:
    _check_any_result(parse(data))
    _check_any_result(parse_scan(data, CONFIG))  # without a clock


@given(
    st.text(string.ascii_letters + " :#", max_size=30),
    st.integers(min_value=12, max_value=19),
    seeds,
    st.text(string.ascii_letters + " =", max_size=30),
)
def test_preview_never_shows_a_long_digit_run(
    before: str, length: int, seed: int, after: str
) -> None:
    rng = random.Random(seed)
    pan = "".join(rng.choice(string.digits) for _ in range(length))
    for rendering in (pan, " ".join(pan[i : i + 4] for i in range(0, length, 4))):
        preview = safe_preview(before + rendering + after)
        assert pan[: length - 4] not in preview.replace(" ", "")
        digits_shown = sum(c.isdigit() for c in preview)
        assert digits_shown <= 4
        assert len(preview) <= 40


def test_preview_examples() -> None:
    assert safe_preview("4111111111111111") == "••••••••••••1111"
    assert safe_preview("card 4111-1111-1111-1111!") == "card ••••-••••-••••-1111!"
    assert safe_preview("12345678901") == "12345678901"  # 11 digits: not a card number
    assert safe_preview("a\x1bb\tc\u202ed\ud800") == "a\\x1bb\\tc\\u202ed\\ud800"
    assert safe_preview("x" * 100) == "x" * 39 + "…"
    assert safe_preview("x" * 38 + "\x00") == "x" * 38 + "…"  # escapes are never cut in half
    # A card number that starts inside the shown part is masked even if the input is cut.
    long_run = "x" * 30 + "4" * 200
    assert safe_preview(long_run) == "x" * 30 + "•" * 9 + "…"


def test_unrecognised_carries_a_safe_preview_of_the_raw_input() -> None:
    result = parse("\x02hello\x03\r\n")
    assert isinstance(result, Unrecognised)
    assert result.preview == "\\x02hello\\x03\\r\\n"


# ============================================================================================
# Small public helpers and config
# ============================================================================================


def test_mask_card_number() -> None:
    assert mask_card_number("9826123456789018") == "•••• •••• •••• 9018"
    assert mask_card_number("9826 1234 5678 9018") == "•••• •••• •••• 9018"
    assert mask_card_number("6039123456789012349") == "••• •••• •••• •••• 2349"
    assert mask_card_number("9826123456789018", mask_char="*") == "**** **** **** 9018"
    assert mask_card_number("123") == "••••"
    with pytest.raises(ValueError, match="only digits"):
        mask_card_number("9826x")


def test_kinds_name_each_result_type() -> None:
    kinds: dict[type[ParsedCode], str] = {
        LoyaltyCard: "loyalty_card",
        GiftCard: "gift_card",
        Product: "product",
        MemberQR: "member_qr",
        Voucher: "voucher",
        ReceiptRef: "receipt",
        Unrecognised: "unrecognised",
    }
    for result_type, kind in kinds.items():
        assert result_type.kind == kind
    assert parse(CARD).kind == "loyalty_card"


def test_config_keeps_keys_read_only_and_out_of_repr() -> None:
    keys = {"k1": KEY_1}
    config = CodeConfig(qr_keys=keys)
    keys["k2"] = KEY_2
    assert "k2" not in config.qr_keys
    assert KEY_1.decode() not in repr(config)
    assert hash(config) == hash(CodeConfig(qr_keys={"k1": KEY_1}))
    assert config == CodeConfig(qr_keys={"k1": KEY_1})
    assert config != CodeConfig()
    with pytest.raises(TypeError):
        config.qr_keys["k3"] = KEY_2  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"card_prefix": "98a6"}, "card_prefix"),
        ({"card_length": 5}, "card_length"),
        ({"gift_length": 20}, "gift_length"),
        ({"gift_prefix": "982", "gift_length": 16}, "overlap"),
        ({"qr_max_age_s": -1}, "negative"),
        ({"qr_keys": {"k.1": KEY_1}}, "key id"),
        ({"qr_keys": {"k1": b"short"}}, "length 16"),
    ],
)
def test_config_refuses_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CodeConfig(**kwargs)  # type: ignore[arg-type]


# ============================================================================================
# Purity
# ============================================================================================

ALLOWED_IMPORTS = {
    "__future__",
    "base64",
    "collections",
    "dataclasses",
    "enum",
    "hashlib",
    "hmac",
    "random",  # only under TYPE_CHECKING, for the rng parameter's type
    "re",
    "shared",
    "types",
    "typing",
}


def test_codes_package_imports_only_pure_stdlib_modules() -> None:
    package = Path(__file__).resolve().parents[2] / "shared" / "codes"
    for source in sorted(package.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED_IMPORTS, f"{source.name} imports {name}"
