"""The heartbeat body: what state the device is in, never what anyone looked at.

Lock state, session (objectives, teacher, expiry), policy version, enforcement health, agent
version, uptime/CPU/memory (psutil) and per-host-name counts of blocked attempts during the
session (from enforcers that count them: the proxy's `blocked_hosts()`). No URLs, no paths.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psutil

import policies

MAX_HOSTS = 500
MAX_PROBLEMS = 20
OTHER_HOSTS = "_other"
_HOST_OK = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat()


def blocked_counts(enforcers: Iterable[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for enforcer in enforcers:
        read = getattr(enforcer, "blocked_hosts", None)
        if read is None:
            continue
        try:
            found = read()
        except Exception:
            continue
        for host, n in dict(found).items():
            key = host if _HOST_OK.match(str(host)) else OTHER_HOSTS
            if key not in counts and len(counts) >= MAX_HOSTS - 1:
                key = OTHER_HOSTS
            counts[key] = counts.get(key, 0) + int(n)
    return counts


def problems(status: dict[str, Any], extra: Iterable[str] = ()) -> list[str]:
    found: list[str] = []
    e = status.get("enforcement") or {}
    for b in e.get("backends") or []:
        if not b.get("ok"):
            found.append(f"{b.get('name')}: {b.get('detail') or 'failing'}")
    for text in (e.get("note"), e.get("last_error"), status.get("policy_problem"), *extra):
        if text:
            found.append(str(text))
    return [p[:200] for p in found][:MAX_PROBLEMS]


def heartbeat_body(
    status: dict[str, Any], enforcers: Iterable[object], extra_problems: Iterable[str] = ()
) -> dict[str, Any]:
    open_ = status.get("state") == "open"
    session = None
    if open_ and status.get("expires_at") is not None:
        session = {
            "objectives": list(status.get("objectives") or [])[:50],
            "teacher_id": (status.get("teacher") or None),
            "expires_at": _iso(float(status["expires_at"])),
        }
    found = problems(status, extra_problems)
    return {
        "lock_state": "open" if open_ else "closed",
        "session": session,
        "policy_version": status.get("policy_version"),
        "health": {"ok": not found, "problems": found},
        "agent_version": policies.__version__,
        "uptime_s": max(0, int(time.time() - psutil.boot_time())),
        "cpu_percent": float(psutil.cpu_percent(interval=None)),
        "memory_percent": float(psutil.virtual_memory().percent),
        "blocked_counts": blocked_counts(enforcers),
    }


def offline_record(body: dict[str, Any]) -> dict[str, Any]:
    """A missed heartbeat, kept in the outbox as a `heartbeat` event (telemetry, droppable)."""
    session = body.get("session") or {}
    return {
        "lock_state": body["lock_state"],
        "policy_version": body.get("policy_version"),
        "health_ok": body["health"]["ok"],
        "objectives": session.get("objectives") or [],
        "teacher_id": session.get("teacher_id"),
        "blocked_total": sum(body.get("blocked_counts", {}).values()),
    }
