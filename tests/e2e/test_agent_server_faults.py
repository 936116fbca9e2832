"""A server that fails in every way a network can: 500s, no answer, dropped connections,
garbage, a bundle whose signature does not verify. The real agent keeps its last good policy,
stays up, and says what is wrong; once the server behaves, the new policy arrives."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import policies
from tests.agent.report.faults import FaultProxy
from tests.agent.report.harness import Agent, Server, scratch_dir, wait_for


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Server, FaultProxy, Agent]]:
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv")
    server.setup(teacher_room=None)
    server.start()
    with FaultProxy(server.url) as proxy, scratch_dir() as root:
        agent = Agent(root, heartbeat=0.3)
        try:
            yield server, proxy, agent
        finally:
            agent.stop()
            server.stop()


def _changed_policy(tmp_path: Path) -> Path:
    copy = tmp_path / "policy-v2"
    shutil.copytree(policies.DEFAULT_POLICY_DIR, copy)
    rooms = copy / "rooms.toml"
    rooms.write_text(rooms.read_text().replace('"Room 3A Computer Lab"', '"Room 3A Lab (v2)"'))
    return copy


def test_faults_keep_the_last_good_policy_and_are_reported(
    rig: tuple[Server, FaultProxy, Agent], tmp_path: Path
) -> None:
    server, proxy, agent = rig
    proxy_server = Server(server.data_dir, proxy.port)  # the agent only ever sees the proxy
    device = agent.enroll(proxy_server, server.token())
    agent.start()
    good = wait_for(lambda: agent.server().get("policy_bundle"))
    assert agent.status()["policy_version"] == good

    proxy.mode = "badsig"  # before the import, so v2 never reaches the agent intact
    server.cli("import-policy", str(_changed_policy(tmp_path)))
    wait_for(lambda: agent.server().get("policy_rejected"))
    assert "signature" in agent.server()["policy_rejected"]

    for mode, words in [
        ("500", "server error HTTP 500"),
        ("garbage", "not JSON"),
        ("close", "cannot connect"),
        ("hang", "did not answer in time"),
    ]:
        proxy.mode = mode
        wait_for(lambda w=words: w in (agent.server().get("last_error") or ""), timeout=30)
        status = agent.status()
        assert agent.alive()
        assert status["policy_version"] == good  # still enforcing the last good policy
        assert status["room_name"] == "Room 3A Computer Lab"
        assert all(b["ok"] for b in status["enforcement"]["backends"])

    proxy.mode = "pass"
    wait_for(lambda: agent.status()["room_name"] == "Room 3A Lab (v2)", timeout=30)
    assert agent.server()["policy_rejected"] is None
    wait_for(lambda: agent.server()["outbox_depth"] == 0, timeout=30)
    rejected = [data for _, kind, data in server.events(device) if kind == "policy_rejected"]
    assert len(rejected) == 1 and "signature" in rejected[0]["reason"]
