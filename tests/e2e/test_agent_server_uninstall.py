"""`lessongate-agent report-uninstalled`, as the packages' removal scripts call it: the server
gets an "uninstalled" event when it answers, and a server that does not answer never holds up
the removal for longer than the bound."""

from __future__ import annotations

from pathlib import Path

from tests.agent.report.harness import Agent, Server, scratch_dir


def test_uninstall_is_reported_to_the_server_and_bounded_when_it_is_down(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.setup(teacher_room=None)
    server.start()
    with scratch_dir() as root:
        agent = Agent(root)
        try:
            device = agent.enroll(server, server.token())
            told = agent.cli("report-uninstalled")
            assert told.returncode == 0, told.stderr
            assert "uninstalled" in [t for _, t, _ in server.events(device)]
            server.stop()
            down = agent.cli("report-uninstalled")
            assert down.returncode == 1 and "could not tell" in down.stderr
        finally:
            server.stop()


def test_an_agent_that_never_enrolled_has_nothing_to_report(tmp_path: Path) -> None:
    with scratch_dir() as root:
        done = Agent(root).cli("report-uninstalled")
        assert done.returncode == 0 and "not enrolled" in done.stdout
