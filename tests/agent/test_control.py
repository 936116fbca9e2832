from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

import policies
from agent.config import AgentConfig
from agent.control import ControlError, dispatch, request, serve_control
from agent.service import AgentService


def make_service(tmp_path: Path) -> AgentService:
    cfg = AgentConfig(state_dir=tmp_path / "s", policy_dir=policies.DEFAULT_POLICY_DIR)
    service = AgentService(cfg, [])
    service.startup()
    return service


def test_bad_requests_get_a_clear_answer(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    assert dispatch(service, "status", 0) == {"ok": False, "error": "bad_request"}
    assert dispatch(service, {"cmd": "format-disk"}, 0)["error"] == "bad_request"
    bad_unlock = {"cmd": "unlock", "teacher": "t", "pin": "1", "objectives": "x", "minutes": 5}
    assert dispatch(service, bad_unlock, 0)["error"] == "bad_request"
    # No verifier file was provisioned: the PIN cannot be checked, and nothing opens.
    unlock = {**bad_unlock, "objectives": ["CCSS.MATH.3.OA.A.1"]}
    answer = dispatch(service, unlock, 0)
    assert (answer["ok"], answer["error"]) == (False, "no_verifier")
    assert "token" not in answer
    assert dispatch(service, {"cmd": "end"}, 0)["error"] == "not_open"
    assert service.status()["state"] == "closed"


def test_socket_is_owner_only_and_answers(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    path = service.config.control_socket

    async def scenario() -> dict[str, object]:
        server = await serve_control(service, path)
        try:
            return await asyncio.to_thread(request, path, {"cmd": "status"})
        finally:
            server.close()

    answer = asyncio.run(scenario())
    assert answer["ok"] is True
    assert answer["status"]["state"] == "closed"  # type: ignore[index]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_no_agent_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="is `lessongate-agent run` running"):
        request(tmp_path / "control.sock", {"cmd": "status"})
