"""Whether a session saved before a restart or a reboot may continue, and for how long.

Same boot (same kernel boot id): the monotonic deadline still holds, so the answer is exact.

Another boot: the monotonic clock started again from zero, so only the wall clock links the two
boots, and the wall clock can be wrong or moved. The rule, chosen so that no clock change can
lengthen a session:

- the wall clock must not be behind the moment of the last save (else it was set back and the
  time spent while stopped cannot be measured: the device stays closed);
- the time left is the smaller of (wall-clock expiry - now) and the time that was left at the
  last save; so a reboot resumes a session at most for what remained, never longer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from agent.clock import Now
from agent.session.messages import Report, Session


@dataclass(frozen=True)
class Resume:
    session: Session | None  # rebased on `now`'s boot, or None
    why: str  # "resumed" | "expired_while_stopped" | "clock_set_back" | "nothing_saved"
    across_reboot: bool = False


def snapshot(session: Session | None, now: Now) -> dict[str, Any]:
    return {
        "session": session.to_dict() if session else None,
        "saved_wall": now.wall,
        "saved_mono": now.mono,
        "boot_id": now.boot_id,
    }


def resume(saved: dict[str, Any], now: Now) -> Resume:
    """Raises KeyError/TypeError/ValueError for a malformed snapshot (the caller treats that
    as a corrupt state file)."""
    raw = saved.get("session")
    if raw is None:
        return Resume(None, "nothing_saved")
    session = Session.from_dict(raw)
    saved_wall = float(saved["saved_wall"])
    saved_mono = float(saved["saved_mono"])
    same_boot = bool(now.boot_id) and session.boot_id == now.boot_id == saved.get("boot_id")
    if same_boot:
        left = session.deadline - now.mono
    elif now.wall < saved_wall:
        return Resume(None, "clock_set_back", across_reboot=True)
    else:
        left = min(session.expires_at - now.wall, session.deadline - saved_mono)
    if left <= 0:
        return Resume(None, "expired_while_stopped", across_reboot=not same_boot)
    rebased = replace(
        session, deadline=now.mono + left, expires_at=now.wall + left, boot_id=now.boot_id
    )
    return Resume(rebased, "resumed", across_reboot=not same_boot)


def restore(
    saved: dict[str, Any] | None, problem: str | None, now: Now
) -> tuple[Session | None, list[Report]]:
    """The session to continue after a start, and what to report about the saved state."""
    if problem is None and saved is not None:
        try:
            result = resume(saved, now)
        except (KeyError, TypeError, ValueError) as e:
            problem = f"saved session is malformed: {e!r}"
        else:
            s = result.session
            if s is not None:
                data = {
                    "session_id": s.id,
                    "teacher_id": s.teacher_id,
                    "seconds_left": round(s.seconds_left(now.mono)),
                    "across_reboot": result.across_reboot,
                }
                return s, [Report("session_resumed", data)]
            if result.why == "nothing_saved":
                return None, []
            old = saved.get("session") or {}
            data = {
                "session_id": old.get("id"),
                "teacher_id": old.get("teacher_id"),
                "ended_by": "timer",
                "reason": result.why,
            }
            return None, [Report("session_ended", data)]
    if problem is not None:
        return None, [Report("state_corrupt", {"problem": problem})]
    return None, []
