"""The CLI's control channel: a Unix socket `<state_dir>/control.sock`, owner-only (0600).

Access control is the file mode (the state folder is 0700 too): only the agent's own user,
root on a real device, can connect, so `lessongate-agent status/unlock/end` need that user.
`unlock` still needs the teacher's PIN; `end` is recorded as `cli:uid=N` from the peer's
credentials (SO_PEERCRED).

Protocol: one JSON object per line in each direction, one request per connection.

    {"cmd": "status"}                       -> {"ok": true, "status": {...}}
    {"cmd": "unlock", "teacher": "t-ada", "pin": "...", "objectives": ["..."], "minutes": 30}
    {"cmd": "end"}                          -> {"ok": true} | {"ok": false, "error": "not_open"}
    {"cmd": "reload"}                       re-read the policy folder
    {"cmd": "disable", "code": "..."}       IT's code: stop enforcing until "enable"
    {"cmd": "enable"}                       enforce again

Requests run on a worker thread: PIN and code checks (argon2, the server's online check) block,
and the event loop also serves the UI.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module for `request`; keep its start quick
    import asyncio

    from agent.service import AgentService

MAX_REQUEST = 64 * 1024


class ControlError(Exception):
    """The agent could not be reached or answered nonsense; `str()` says what to check."""


def _bind(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left over from an agent that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        # Not yet listening, so nobody can connect before the mode is tightened.
        os.chmod(path, 0o600)
        sock.listen(16)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", raw)[1])


def dispatch(service: AgentService, request: Any, uid: int | None) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {"ok": False, "error": "bad_request"}
    cmd = request.get("cmd")
    if cmd == "status":
        return {"ok": True, "status": service.status()}
    if cmd == "unlock":
        teacher, pin = request.get("teacher"), request.get("pin")
        objectives, minutes = request.get("objectives"), request.get("minutes")
        if (
            not isinstance(teacher, str)
            or not isinstance(pin, str)
            or not isinstance(objectives, list)
            or not all(isinstance(o, str) for o in objectives)
            or not (minutes is None or (isinstance(minutes, int) and not isinstance(minutes, bool)))
        ):
            return {"ok": False, "error": "bad_request"}
        outcome = service.local_unlock(teacher, pin, objectives, minutes)
        answer = asdict(outcome)
        answer.pop("token", None)
        return answer
    if cmd == "end":
        return asdict(service.local_end(f"cli:uid={uid}"))
    if cmd == "disable":
        code = request.get("code")
        if not isinstance(code, str):
            return {"ok": False, "error": "bad_request"}
        outcome = service.disable(code, f"cli:uid={uid}")
        return {"ok": outcome.ok, "error": outcome.error, "details": dict(outcome.details)}
    if cmd == "enable":
        return asdict(service.enable(f"cli:uid={uid}"))
    if cmd == "reload":
        problem = service.reload_policy()
        return {
            "ok": problem is None,
            "error": "policy_error" if problem else None,
            "details": {"problem": problem} if problem else {},
        }
    return {"ok": False, "error": "bad_request", "details": {"cmd": str(cmd)}}


async def serve_control(service: AgentService, path: Path) -> asyncio.Server:
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            try:
                request = json.loads(line[:MAX_REQUEST])
            except ValueError:
                request = None
            answer = await asyncio.to_thread(dispatch, service, request, _peer_uid(writer))
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_unix_server(handle, sock=_bind(path), limit=MAX_REQUEST)


def request(path: Path, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Sends one request to a running agent and returns its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except FileNotFoundError:
            raise ControlError(f"{path}: not found; is `lessongate-agent run` running?") from None
        except PermissionError:
            raise ControlError(
                f"{path}: permission denied; run as the agent's user (root)"
            ) from None
        except OSError as e:
            raise ControlError(f"{path}: cannot connect ({e.strerror or e})") from None
        sock.sendall(json.dumps(payload).encode() + b"\n")
        with sock.makefile("rb") as f:
            line = f.readline()
    try:
        answer = json.loads(line)
    except ValueError:
        raise ControlError(f"{path}: the agent gave no answer") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{path}: unexpected answer {answer!r}")
    return answer
