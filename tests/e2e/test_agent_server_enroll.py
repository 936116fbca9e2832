"""Enrollment that fails (wrong token): the agent runs closed, says why in `status`, and takes
the enrollment when IT runs `enroll` again with a good token, without a restart."""

from __future__ import annotations

from pathlib import Path

from tests.agent.report.harness import Agent, Server, scratch_dir, wait_for


def test_a_failed_enrollment_keeps_the_device_closed_and_is_retried(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.setup(teacher_room=None)
    server.start()
    with scratch_dir() as root:
        agent = Agent(root, heartbeat=0.5)
        try:
            wrong = agent.cli("enroll", "--server", server.url, "--token", "not-a-token")
            assert wrong.returncode == 1 and "unknown enrollment token" in wrong.stderr
            agent.start()
            server_part = wait_for(lambda: agent.server().get("last_error") and agent.server())
            assert server_part["enrolled"] is False
            assert "unknown enrollment token" in server_part["last_error"]
            assert agent.status()["state"] == "closed"
            assert agent.cli("status").stdout.count("not enrolled") == 1

            agent.enroll(server, server.token())
            wait_for(lambda: agent.server().get("enrolled"), timeout=90)  # retry back-off: 40 s
            wait_for(lambda: agent.server().get("last_contact"), timeout=30)
            assert agent.status()["state"] == "closed"
        finally:
            agent.stop()
            server.stop()
