"""The shared hostile-input rules (opendialer.inputs), property by property."""

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendialer.inputs import (
    MAX_DB_INT,
    MIN_DB_INT,
    InputRejected,
    check_text,
    declared_length,
    decode_form,
    json_depth,
    loads_json,
    parse_int,
)
from tests.hostile import HOSTILE, deep_json, hostile_digits, hostile_text


@given(st.integers(min_value=MIN_DB_INT, max_value=MAX_DB_INT))
def test_every_64_bit_integer_round_trips(value: int) -> None:
    assert parse_int(str(value)) == value
    assert parse_int(f" {value} ") == value


@given(st.text(max_size=30) | hostile_digits())
def test_parse_int_accepts_only_ascii_digits_in_range(text: str) -> None:
    try:
        value = parse_int(text)
    except InputRejected:
        return
    assert text.strip().lstrip("+-").isascii() and text.strip().lstrip("+-").isdigit()
    assert MIN_DB_INT <= value <= MAX_DB_INT


@pytest.mark.parametrize("text", ["²", "1²", "٣", "\uff19", "9" * 20, "9" * 4000, str(2**63), ""])
def test_parse_int_refuses_the_issues_cases(text: str) -> None:
    with pytest.raises(InputRejected):
        parse_int(text)


def test_parse_int_honours_the_columns_range() -> None:
    assert parse_int("7", 1, 9) == 7
    for text in ("0", "10", "-1"):
        with pytest.raises(InputRejected):
            parse_int(text, 1, 9)


@given(hostile_text())
def test_check_text_refuses_exactly_nul_and_lone_surrogates(text: str) -> None:
    bad = "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)
    try:
        check_text(text)
    except InputRejected:
        assert bad
    else:
        assert not bad
        text.encode("utf-8")  # storable: encodes without error


@HOSTILE
@given(st.binary(max_size=200) | st.builds(lambda d: deep_json(d), st.integers(0, 5000)))
def test_loads_json_fails_only_with_input_rejected(raw: bytes) -> None:
    with contextlib.suppress(InputRejected):  # anything else (RecursionError...) fails
        loads_json(raw)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    )
)
def test_json_depth_limit_agrees_with_the_document(value: object) -> None:
    raw = json.dumps(value).encode()
    assert loads_json(raw) == value or raw.count(b"[") + raw.count(b"{") > 64


def test_depth_is_counted_outside_strings_only() -> None:
    inside = json.dumps({"a": "[" * 1000}).encode()
    assert json_depth(inside, 64) == 0 and loads_json(inside) == {"a": "[" * 1000}
    with pytest.raises(InputRejected, match="deeper than 64"):
        loads_json(deep_json(65))
    assert loads_json(deep_json(62)) is not None


def test_lone_surrogate_escapes_are_refused_pairs_kept() -> None:
    with pytest.raises(InputRejected, match="surrogate"):
        loads_json(b'{"a": ["\\ud800"]}')
    with pytest.raises(InputRejected, match="surrogate"):
        loads_json(b'{"\\uDFFF": 1}')
    assert loads_json(b'"\\ud83d\\ude00"') == "\U0001f600"


@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=20))
def test_php_latin1_forms_decode_without_replacement(text: str) -> None:
    raw = text.encode("latin-1")
    body = b"name=" + "".join(f"%{b:02X}" for b in raw).encode()
    [(_, value)] = decode_form(body)
    assert "\ufffd" not in value
    assert value == _first_decoding(raw, ("utf-8", "cp1252", "iso-8859-1"))


def _first_decoding(raw: bytes, charsets: tuple[str, ...]) -> str:
    for charset in charsets:
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            continue
    raise AssertionError


@given(st.text(max_size=20).filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)))
def test_utf8_forms_round_trip(text: str) -> None:
    body = b"name=" + "".join(f"%{b:02X}" for b in text.encode()).encode()
    assert decode_form(body) == [("name", text)]


def test_declared_charsets() -> None:
    latin = "application/x-www-form-urlencoded; charset=iso-8859-1"
    assert decode_form(b"a=%FC", latin) == [("a", "ü")]
    assert decode_form(b"a=%80", "x; charset=windows-1252") == [("a", "€")]
    with pytest.raises(InputRejected, match="unknown charset"):
        decode_form(b"a=1", "x; charset=klingon")
    with pytest.raises(InputRejected, match="not valid utf-8"):
        decode_form(b"a=%FC", "x; charset=UTF-8")


@pytest.mark.parametrize(
    ("header", "length"), [("12", 12), ("²", 0), ("9" * 5000, 0), ("-1", 0), ("", 0)]
)
def test_declared_length(header: str, length: int) -> None:
    assert declared_length(header) == length
