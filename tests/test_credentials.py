"""Credentials and temporary credentials (tcmodel.credentials)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from schemas import vectors

from tcmodel.credentials import Credentials, create_temporary_credentials

ISSUER = Credentials("tcmodel/vectors", "vectors-access-token-0123456789abcdefABCDEF_-")
START = datetime(2023, 11, 14, 22, 0, tzinfo=timezone.utc)


def _temp_cases() -> list[Any]:
    return [pytest.param(v, id=k) for k, v in vectors()["temporaryCredentials"].items()]


@pytest.mark.parametrize("vector", _temp_cases())
def test_temporary_credentials_vectors(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    issuer = Credentials(inputs["issuerClientId"], inputs["issuerAccessToken"])
    tmp = create_temporary_credentials(
        issuer,
        inputs["scopes"],
        start=datetime.fromisoformat(inputs["start"]),
        expiry=datetime.fromisoformat(inputs["expiry"]),
        name=inputs["name"],
        seed="".join(inputs["seedSlugIds"]),
    )
    out = vector["output"]
    assert tmp.client_id == out["clientId"]
    assert tmp.access_token == out["accessToken"]
    assert tmp.certificate == out["certificate"]  # the exact JSON string
    assert tmp.certificate_data == vector["certificateDecoded"]
    assert tmp.is_temporary
    assert tmp.expires == datetime.fromisoformat(inputs["expiry"])


@pytest.mark.parametrize("vector", _temp_cases())
def test_temporary_credentials_from_timedelta(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    tmp = create_temporary_credentials(
        ISSUER,
        inputs["scopes"],
        start=START,
        expiry=timedelta(days=1),
        name=inputs["name"],
        seed="".join(inputs["seedSlugIds"]),
    )
    assert tmp.certificate == vector["output"]["certificate"]


def test_matches_official_client_with_other_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import taskcluster.client
    import taskcluster.utils

    seeds = iter(["AAAAAAAAQAaAAAAAAAAAAA", "BBBBBBBBQBqBBBBBBBBBBA"])
    monkeypatch.setattr(taskcluster.utils, "slugId", lambda: next(seeds))
    start = datetime(2024, 2, 29, 1, 2, 3, tzinfo=timezone.utc)
    expiry = start + timedelta(days=31)
    scopes = ["a:b", "queue:get-artifact:private/*", "x"]
    theirs = taskcluster.client.createTemporaryCredentials(
        ISSUER.client_id, ISSUER.access_token, start, expiry, scopes, name="other/name"
    )
    ours = create_temporary_credentials(
        ISSUER,
        scopes,
        start=start,
        expiry=expiry,
        name="other/name",
        seed="AAAAAAAAQAaAAAAAAAAAAABBBBBBBBQBqBBBBBBBBBBA",
    )
    assert Credentials.coerce(theirs) == ours


def test_random_seed_is_44_characters_and_differs() -> None:
    a = create_temporary_credentials(ISSUER, ["a"])
    b = create_temporary_credentials(ISSUER, ["a"])
    assert a.certificate_data is not None and b.certificate_data is not None
    assert len(a.certificate_data["seed"]) == 44
    assert a.certificate_data["seed"] != b.certificate_data["seed"]
    assert a.access_token != b.access_token
    # start defaults to now, expiry to an hour later.
    span = a.certificate_data["expiry"] - a.certificate_data["start"]
    assert span == 3600 * 1000
    assert abs(a.certificate_data["start"] / 1000 - time.time()) < 60


def test_span_limit_is_31_days() -> None:
    ok = create_temporary_credentials(ISSUER, ["a"], start=START, expiry=timedelta(days=31))
    assert ok.certificate_data is not None
    assert ok.certificate_data["expiry"] - ok.certificate_data["start"] == 31 * 86400 * 1000
    with pytest.raises(ValueError, match="31 days"):
        create_temporary_credentials(
            ISSUER, ["a"], start=START, expiry=timedelta(days=31, seconds=1)
        )
    with pytest.raises(ValueError, match="31 days"):
        create_temporary_credentials(ISSUER, ["a"], start=START, expiry=START + timedelta(days=40))
    with pytest.raises(ValueError, match="not after"):
        create_temporary_credentials(ISSUER, ["a"], start=START, expiry=START)


def test_temporary_credentials_cannot_issue() -> None:
    tmp = create_temporary_credentials(ISSUER, ["a"], start=START)
    with pytest.raises(ValueError, match="cannot issue"):
        create_temporary_credentials(tmp, ["a"], start=START)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        create_temporary_credentials(ISSUER, "queue:get-artifact:*", start=START)
    with pytest.raises(ValueError, match="scope"):
        create_temporary_credentials(ISSUER, ["caf\u00e9"], start=START)
    with pytest.raises(ValueError, match="44"):
        create_temporary_credentials(ISSUER, ["a"], start=START, seed="short")
    with pytest.raises(ValueError, match="name"):
        create_temporary_credentials(ISSUER, ["a"], start=START, name=ISSUER.client_id)
    with pytest.raises(TypeError):
        create_temporary_credentials(None, ["a"])  # type: ignore[arg-type]


@pytest.fixture
def new_york_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a local time zone far from UTC (restored afterwards)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.usefixtures("new_york_tz")
def test_naive_datetimes_are_utc() -> None:
    naive_start = datetime(2023, 11, 14, 22, 0)
    naive_expiry = datetime(2023, 11, 15, 22, 0)
    # The local zone really is not UTC here, so local-time handling would differ.
    assert naive_start.timestamp() != START.timestamp()
    named = vectors()["temporaryCredentials"]["named"]
    tmp = create_temporary_credentials(
        ISSUER,
        named["inputs"]["scopes"],
        start=naive_start,
        expiry=naive_expiry,
        name=named["inputs"]["name"],
        seed="".join(named["inputs"]["seedSlugIds"]),
    )
    assert tmp.certificate == named["output"]["certificate"]
    # An aware datetime in another zone means the same instant.
    eastern = timezone(timedelta(hours=-5))
    aware = create_temporary_credentials(
        ISSUER,
        named["inputs"]["scopes"],
        start=datetime(2023, 11, 14, 17, 0, tzinfo=eastern),
        expiry=datetime(2023, 11, 15, 17, 0, tzinfo=eastern),
        name=named["inputs"]["name"],
        seed="".join(named["inputs"]["seedSlugIds"]),
    )
    assert aware.certificate == named["output"]["certificate"]


# -- Credentials.coerce ---------------------------------------------------------


def test_coerce_forms() -> None:
    cert = vectors()["temporaryCredentials"]["named"]["output"]["certificate"]
    assert Credentials.coerce(None) is None
    assert Credentials.coerce(ISSUER) is ISSUER
    assert Credentials.coerce(("a", "b")) == Credentials("a", "b")
    three = Credentials.coerce(("a", "b", cert))
    assert three is not None and three.certificate == cert and three.is_temporary
    official = Credentials.coerce({"clientId": "a", "accessToken": "b"})
    assert official == Credentials("a", "b")
    assert official is not None and official.certificate is None
    with_cert = Credentials.coerce(
        {"clientId": "a", "accessToken": b"b", "certificate": cert}  # official: token as bytes
    )
    assert with_cert == Credentials("a", "b", cert)
    as_object = Credentials.coerce(
        {"clientId": "a", "accessToken": "b", "certificate": json.loads(cert)}
    )
    assert as_object is not None and as_object.certificate == cert
    assert Credentials("a", "b", "").certificate is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (["a", "b"], TypeError),
        ("a:b", TypeError),
        (42, TypeError),
        (("a",), TypeError),
        (("a", "b", "c", "d"), TypeError),
        ({"clientId": "a"}, ValueError),
        ({"accessToken": "b"}, ValueError),
        ({"clientId": "", "accessToken": "b"}, ValueError),
        (("", "b"), ValueError),
        (("a", ""), ValueError),
        (("a", "b", "not json"), ValueError),
        (("a", "b", "[1, 2]"), ValueError),
    ],
)
def test_coerce_rejects(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Credentials.coerce(value)


def test_repr_and_str_hide_secrets() -> None:
    named = vectors()["temporaryCredentials"]["named"]["output"]
    tmp = Credentials(named["clientId"], named["accessToken"], named["certificate"])
    cert = json.loads(named["certificate"])
    for text in (repr(tmp), str(tmp), f"{tmp}", repr([tmp]), repr(ISSUER), str(ISSUER)):
        for secret in (
            named["accessToken"],
            ISSUER.access_token,
            named["certificate"],
            cert["signature"],
            cert["seed"],
        ):
            assert secret not in text
    assert repr(tmp) == "Credentials(client_id='tcmodel/temp-worker', temporary=True)"
    assert str(ISSUER) == "Credentials(client_id='tcmodel/vectors')"


def test_credentials_are_frozen_values() -> None:
    a = Credentials("a", "b")
    assert a == Credentials("a", "b")
    assert a != Credentials("a", "c")
    assert hash(a) == hash(Credentials("a", "b"))
    with pytest.raises(AttributeError):  # untyped ok: assigning a read-only attribute
        a.access_token = "x"  # type: ignore[misc]
    assert a.expires is None and a.certificate_data is None and not a.is_temporary
