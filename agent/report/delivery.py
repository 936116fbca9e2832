"""One delivery step: the oldest events, in order, in one batch; acknowledged only on success.

A batch the server refuses as a whole (one event it cannot take) is sent again one event at a
time, so the one at fault is set aside (counted as rejected) and the rest still arrive, in order.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.report.errors import Refused, Unauthorized
from agent.report.http import ServerClient
from agent.report.outbox import Outbox
from agent.report.wire import to_wire

BATCH = 250  # the server takes up to 500 per request
MAX_BATCH_BYTES = 400_000  # and 1 MB per body

log = logging.getLogger(__name__)


def deliver_once(outbox: Outbox, client: ServerClient, batch: int = BATCH) -> int:
    """Delivers the oldest batch; returns how many events left the outbox (0: it is empty).
    Raises `errors.ServerError` for transient failures and for Unauthorized."""
    queued = outbox.peek(batch)
    wire: list[tuple[int, dict[str, Any]]] = []
    size = 0
    for q in queued:
        item = to_wire(q.event, q.seq)
        n = len(json.dumps(item))
        if wire and size + n > MAX_BATCH_BYTES:
            break
        wire.append((q.seq, item))
        size += n
    if not wire:
        return 0
    try:
        client.post_events([item for _, item in wire])
    except Unauthorized:
        raise
    except Refused:
        return _one_by_one(outbox, client, wire)
    outbox.ack([seq for seq, _ in wire])
    return len(wire)


def _one_by_one(
    outbox: Outbox, client: ServerClient, wire: list[tuple[int, dict[str, Any]]]
) -> int:
    for seq, item in wire:
        try:
            client.post_events([item])
        except Unauthorized:
            raise
        except Refused as e:
            log.warning("server refused event %s (%s): %s", item["id"], item["type"], e)
            outbox.reject([seq])
            continue
        outbox.ack([seq])
    return len(wire)
