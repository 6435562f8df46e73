"""The sans-IO AMQP client of tcmodel.events, driven by hand (no broker):
heartbeats after the caller held an event long, and their negotiation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pamqp import body, commands, frame, header, heartbeat

from tcmodel.events._amqp import (
    HEARTBEAT,
    AmqpConnection,
    Connect,
    ConnectionLost,
    Delivery,
    PulseUrl,
    Read,
    Write,
)

_BEAT = heartbeat.Heartbeat().marshal()


def _held(minutes: float) -> AmqpConnection:
    """A connection whose caller held an item ``minutes`` without reading."""
    conn = AmqpConnection(PulseUrl.parse("amqp://u:p@h/"))
    conn.heartbeat = 30
    conn._last_recv = conn._last_sent = time.monotonic() - minutes * 60
    return conn


def _deliver() -> bytes:
    """A Basic.Deliver with its header and body frames, as the broker sends them."""
    data = b'{"x": 1}'
    return (
        frame.marshal(commands.Basic.Deliver("tcmodel", 7, False, "ex", "primary.k"), 1)
        + frame.marshal(header.ContentHeader(0, len(data), commands.Basic.Properties()), 1)
        + frame.marshal(body.ContentBody(data), 1)
    )


def _returned(gen: Any, value: Any) -> Any:
    """What the operation returns once sent ``value``."""
    try:
        step = gen.send(value)
    except StopIteration as stop:
        return stop.value
    raise AssertionError(f"the operation asked for more: {step!r}")


def test_resuming_after_a_long_hold_beats_first_then_reads_what_waited() -> None:
    gen = _held(10).next_delivery()
    assert next(gen) == Write(_BEAT)  # answered at once when resumed
    assert isinstance(gen.send(None), Read)
    # the broker's heartbeats and a message waited in the socket: read, not "missed"
    got = _returned(gen, _BEAT + _deliver())
    assert isinstance(got, Delivery)
    assert (got.routing_key, got.body, got.delivery_tag) == ("primary.k", b'{"x": 1}', 7)


def test_a_broker_silent_through_the_hold_and_after_is_a_lost_connection() -> None:
    gen = _held(10).next_delivery()
    assert next(gen) == Write(_BEAT)
    assert isinstance(gen.send(None), Read)
    with pytest.raises(ConnectionLost, match="missed heartbeats"):
        gen.send(None)  # nothing came within the read's timeout either


def _negotiated(url: str, proposed: int) -> Any:
    """The heartbeat tcmodel answers a broker proposing ``proposed`` with."""
    gen = AmqpConnection(PulseUrl.parse(url)).open()
    assert isinstance(next(gen), Connect)
    assert isinstance(gen.send(None), Write)  # the protocol header
    assert isinstance(gen.send(None), Read)
    start = commands.Connection.Start(server_properties={}, mechanisms="PLAIN", locales="en_US")
    assert isinstance(gen.send(frame.marshal(start, 0)), Write)  # StartOk
    assert isinstance(gen.send(None), Read)
    tune = commands.Connection.Tune(channel_max=0, frame_max=131072, heartbeat=proposed)
    step = gen.send(frame.marshal(tune, 0))  # TuneOk
    gen.close()
    _, _, tune_ok = frame.unmarshal(step.data)
    return tune_ok.heartbeat


def test_the_heartbeat_is_long_unless_the_url_or_the_broker_says_otherwise() -> None:
    assert _negotiated("amqp://u:p@h/", 60) == HEARTBEAT >= 120
    assert _negotiated("amqp://u:p@h/?heartbeat=15", 60) == 15
    assert _negotiated("amqp://u:p@h/", 0) == 0  # the broker wants none
