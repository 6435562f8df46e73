"""Tests of tcmodel.utils against the official client's vectors and functions."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import slugid
from schemas import vectors

from tcmodel.utils import (
    SLUGID_PATTERN,
    check_slug_id,
    from_now,
    from_now_json,
    is_slug_id,
    parse_date,
    slug_id,
    stable_slug_id,
    to_json_date,
)

BASE = datetime(2024, 1, 31, 12, 0, tzinfo=timezone.utc)


def _from_now_cases(kind: str) -> list[Any]:
    return [pytest.param(c, id=repr(c["offset"])) for c in vectors()["fromNow"][kind]]


@pytest.mark.parametrize("case", _from_now_cases("valid"))
def test_from_now_valid_vectors(case: dict[str, Any]) -> None:
    base = datetime.fromisoformat(case["dateObj"])
    assert base == BASE
    result = from_now(case["offset"], base)
    assert result.isoformat() == case["result"]
    assert result.tzinfo is timezone.utc
    assert from_now_json(case["offset"], base) == case["resultJSON"]


@pytest.mark.parametrize("case", _from_now_cases("invalid"))
def test_from_now_invalid_vectors(case: dict[str, Any]) -> None:
    if "error" not in case:  # "-": the official client takes it as a zero offset
        assert from_now(case["offset"], BASE).isoformat() == case["result"]
        return
    with pytest.raises(ValueError) as info:
        from_now(case["offset"], BASE)
    assert str(info.value).startswith(case["error"].removeprefix("ValueError: "))


def test_there_are_17_valid_and_8_invalid_offsets() -> None:
    assert len(vectors()["fromNow"]["valid"]) == 17
    assert len(vectors()["fromNow"]["invalid"]) == 8


def test_from_now_error_shows_where_it_stopped() -> None:
    with pytest.raises(ValueError, match=r"'1 day ago' does not parse \(stopped at 'ago'"):
        from_now("1 day ago", BASE)
    with pytest.raises(ValueError, match=r"\(stopped at '2 days'"):
        from_now("1 hour 2 days", BASE)  # terms must come in order


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ("", BASE),
        ("-", BASE),
        ("+", BASE),
        ("  - + 1h ", BASE - timedelta(hours=1)),
        ("3 minutes 5 s", BASE + timedelta(minutes=3, seconds=5)),
        ("1min", BASE + timedelta(minutes=1)),
        ("1 minute 1 second", BASE + timedelta(minutes=1, seconds=1)),
        ("2 years", BASE + timedelta(days=730)),
        ("1 mo 1 m", BASE + timedelta(days=30, minutes=1)),
    ],
)
def test_from_now_more_offsets(offset: str, expected: datetime) -> None:
    assert from_now(offset, BASE) == expected


@pytest.mark.parametrize("offset", ["+-1h", "--1h", "1 H", "1 mins", "1h1d", "1 d 1 d", "1", "d"])
def test_from_now_rejects(offset: str) -> None:
    with pytest.raises(ValueError, match="does not parse"):
        from_now(offset, BASE)


def test_from_now_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        from_now("99999999999 years", BASE)
    with pytest.raises(ValueError, match="out of range"):
        from_now("9000 years", BASE)
    with pytest.raises(ValueError, match="must be a str"):
        from_now(5, BASE)  # type: ignore[arg-type]


def test_from_now_base_handling() -> None:
    naive = datetime(2024, 1, 31, 12, 0)
    assert from_now("1 day", naive) == BASE + timedelta(days=1)
    plus_two = datetime(2024, 1, 31, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    result = from_now("1 day", plus_two)
    assert result == BASE + timedelta(days=1)
    assert result.tzinfo is timezone.utc
    before = datetime.now(timezone.utc)
    now_based = from_now("1 hour")
    assert (
        before + timedelta(hours=1) <= now_based <= datetime.now(timezone.utc) + timedelta(hours=1)
    )
    assert now_based.tzinfo is timezone.utc


_PIECES = [" ", "-", "+", "1", "23", "0", "y", "year", "years", "mo", "month", "months", "w"]
_PIECES += ["week", "d", "day", "days", "h", "hour", "hours", "m", "min", "minute", "minutes"]
_PIECES += ["s", "sec", "second", "seconds", "hr", "D", "x", "."]


def test_from_now_agrees_with_official_client_on_random_offsets() -> None:
    from taskcluster.utils import fromNow

    rng = random.Random(31)
    accepted = 0
    for _ in range(3000):
        offset = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 6)))
        try:
            expected: datetime | None = fromNow(offset, BASE)
        except ValueError:
            expected = None
        if expected is None:
            with pytest.raises(ValueError):
                from_now(offset, BASE)
        else:
            assert from_now(offset, BASE) == expected, offset
            accepted += 1
    assert accepted > 300


def test_to_json_date_matches_string_date() -> None:
    from taskcluster.utils import stringDate

    for dt in [
        BASE,
        BASE.replace(microsecond=1),
        BASE.replace(microsecond=250000),
        datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    ]:
        assert to_json_date(dt) == stringDate(dt)
        assert to_json_date(dt.replace(tzinfo=None)) == stringDate(dt.replace(tzinfo=None))
    assert to_json_date(datetime(2024, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        "2024-01-31T12:00:00Z"
    )
    with pytest.raises(ValueError, match="must be a datetime"):
        to_json_date("2024-01-31")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31T12:00:00Z", BASE),
        ("2024-01-31T12:00:00.000Z", BASE),
        ("2024-01-31T12:00:00.123Z", BASE.replace(microsecond=123000)),
        ("2024-01-31T12:00:00.123456Z", BASE.replace(microsecond=123456)),
        ("2024-01-31T12:00:00.1234567Z", BASE.replace(microsecond=123456)),
        ("2024-01-31T12:00:00+00:00", BASE),
        ("2024-01-31T14:30:00+02:30", BASE),
        ("2024-01-31T07:00:00-0500", BASE),
        ("2024-01-31t12:00:00z", BASE),
        ("2024-01-31T12:00:00", BASE),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    parsed = parse_date(text)
    assert parsed == expected
    assert parsed.tzinfo is timezone.utc
    assert parsed.microsecond == expected.microsecond


@pytest.mark.parametrize(
    "text", ["", "2024-01-31", "2024-02-30T12:00:00Z", "2024-01-31T12:00Z", "x2024-01-31T12:00:00Z"]
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_date(text)
    assert repr(text) in str(info.value)


def test_parse_date_round_trips_json_dates() -> None:
    for dt in [BASE, BASE.replace(microsecond=5), from_now("1y2mo3w", BASE)]:
        assert parse_date(to_json_date(dt)) == dt
    assert parse_date(from_now_json("1 day", BASE)) == BASE + timedelta(days=1)


def _slug_cases() -> list[Any]:
    return [pytest.param(c, id=f"{c['slugId']!r}") for c in vectors()["slugIds"]]


def test_there_are_12_slug_id_vectors() -> None:
    assert len(vectors()["slugIds"]) == 12


@pytest.mark.parametrize("case", _slug_cases())
def test_slug_id_vectors(case: dict[str, Any]) -> None:
    value = case["slugId"]
    assert is_slug_id(value) is case["valid"]
    assert is_slug_id(value, nice=True) is case["nice"]
    if case["valid"]:
        assert check_slug_id(value, "taskGroupId") == value
        assert str(slugid.decode(value)) == case["uuid"]
    else:
        with pytest.raises(ValueError, match="taskGroupId must be a slugId") as info:
            check_slug_id(value, "taskGroupId")
        assert repr(value) in str(info.value)


def test_slug_id_pattern_is_the_queues() -> None:
    assert SLUGID_PATTERN.pattern == (
        "^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$"
    )
    # The pattern's "$" would let a trailing newline through; is_slug_id does not.
    assert SLUGID_PATTERN.match("Dx4tPEtaRpeIeWpbTD0uHw\n")
    assert not is_slug_id("Dx4tPEtaRpeIeWpbTD0uHw\n")


@pytest.mark.parametrize("value", [None, 5, b"Dx4tPEtaRpeIeWpbTD0uHw", ["Dx4tPEtaRpeIeWpbTD0uHw"]])
def test_non_strings_are_not_slug_ids(value: object) -> None:
    assert not is_slug_id(value)
    with pytest.raises(ValueError, match="taskId must be a slugId") as info:
        check_slug_id(value)
    assert repr(value) in str(info.value)


def test_check_slug_id_tells_the_length() -> None:
    with pytest.raises(ValueError, match=r"'abc' \(3 characters\)"):
        check_slug_id("abc")


def test_slug_id_makes_nice_v4_ids() -> None:
    ids = {slug_id() for _ in range(500)}
    assert len(ids) == 500
    for value in ids:
        assert isinstance(value, str)
        assert is_slug_id(value, nice=True), value
        assert slugid.decode(value).version == 4


def test_stable_slug_id() -> None:
    first, second = stable_slug_id(), stable_slug_id()
    a = first("build")
    assert is_slug_id(a, nice=True)
    assert first("build") == a
    assert first("test") != a
    assert second("build") != a  # each function has its own names
