"""The JetStream stream every agent publishes to, and the hub's durable consumer on it."""

from __future__ import annotations

import logging

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from jango.desk import wire

log = logging.getLogger("jango.desk")

# A week of events: a hub that was away over a long weekend still catches up from the stream.
MAX_AGE_S = 7 * 24 * 3600.0
# Resends with the same message id inside this window are dropped by JetStream itself; the hub
# drops later ones by (agent, seq). Ten minutes of ids cost the server memory per message.
DUPLICATE_WINDOW_S = 600.0


def stream_config(
    max_age: float = MAX_AGE_S, max_bytes: int = -1, duplicate_window: float = DUPLICATE_WINDOW_S
) -> StreamConfig:
    return StreamConfig(
        name=wire.STREAM,
        subjects=[wire.EVENT_SUBJECTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=max_age,
        max_bytes=max_bytes,
        duplicate_window=min(duplicate_window, max_age),
    )


async def ensure_stream(
    js: JetStreamContext, *, create: bool = True, limits: dict[str, float] | None = None
) -> bool:
    """Make sure the stream exists (created with :func:`stream_config` if ``create``); True if
    it exists now. An existing stream is left as its operator configured it."""
    try:
        await js.stream_info(wire.STREAM)
        return True
    except nats.js.errors.NotFoundError:
        if not create:
            return False
    await js.add_stream(stream_config(**(limits or {})))  # type: ignore[arg-type]
    log.warning("desk: created JetStream stream %s on %s", wire.STREAM, wire.EVENT_SUBJECTS)
    return True


def consumer_config(durable: str = wire.DURABLE, ack_wait: float = 30.0) -> ConsumerConfig:
    """The hub's durable pull consumer over every agent's events, acknowledged one by one."""
    return ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_ack_pending=50_000,
        filter_subject=wire.EVENT_SUBJECTS,
    )
