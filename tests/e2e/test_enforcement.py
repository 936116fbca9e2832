"""End to end, in network namespaces: the real `lessongate-agent run` (enforce = true) on a
"device", driven by `lessongate-agent unlock/end` over its control socket, a student (uid nobody)
with curl and Chromium, and a test "internet".

The tests run in order on one lab (module fixture): closed, a session, forged names, Chromium,
a denied program, SIGKILL and restart, end, expiry. Assertions are on state ("what the student
reaches", `status`), never on elapsed time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.lab import DENIED, DISABLE_CODE, OBJECTIVE, Lab

SITE = {
    name: f"site={addr}"
    for name, addr in {
        "allowed": "203.0.113.10",
        "cdn": "203.0.113.11",
        "other": "203.0.113.20",
        "dns": "203.0.113.53",
    }.items()
}

UDP_PROBE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
try:
    s.sendto(b"quic?", ("203.0.113.10", 443)); print(s.recv(100).decode())
except OSError as e:
    print("no answer:", e)
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        lab.up()
        first = lab.start_agent()
        assert first["state"] == "closed", first
        assert first["enforcement"]["mode"] == "enforce", first
        yield lab
    finally:
        lab.down()


def reached(lab: Lab, url: str, *extra: str) -> str | None:
    """Which test site answered (its `site=` line), or None if none did."""
    _, body = lab.curl(url, *extra)
    return next((s for s in SITE.values() if s + " " in body), None)


def assert_closed(lab: Lab) -> None:
    for url in (
        "http://allowed.test/lesson/",
        "https://allowed.test/lesson/",
        "http://203.0.113.10/",
        "https://203.0.113.10/",
        "http://allowed.test:8080/",  # other ports
        "telnet://203.0.113.10:853",  # DNS-over-TLS port
        "https://dns.test/dns-query?name=allowed.test",  # DNS-over-HTTPS
        "http://other.test/",
    ):
        assert reached(lab, url) is None, url
    udp = lab.student("/usr/bin/python3", "-c", UDP_PROBE).stdout
    assert "echo:" not in udp and "no answer" in udp


def wait_for(what: Callable[[], bool], limit: float = 60) -> bool:
    """Polls a state; the limit only bounds a broken run, it is not what is tested."""
    deadline = time.monotonic() + limit
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def unlock(lab: Lab, minutes: int | None = None) -> str:
    done = lab.unlock(minutes)
    assert done.returncode == 0, done.stderr
    status = lab.status()
    assert (status["state"], status["objectives"]) == ("open", [OBJECTIVE])
    return str(status["session_id"])


def test_closed_nothing_is_reachable_but_names_resolve(lab: Lab) -> None:
    assert lab.student("getent", "hosts", "allowed.test").stdout.startswith("203.0.113.10")
    assert_closed(lab)
    _code, body = lab.curl("http://allowed.test/lesson/", "-i")
    assert "Location: http://127.0.0.1:8765/blocked?host=allowed.test" in body


def test_a_wrong_pin_opens_nothing(lab: Lab) -> None:
    done = lab.cli(
        "unlock", "--teacher", "t-e2e", "--objective", OBJECTIVE, "--pin-stdin", stdin="0000\n"
    )
    assert done.returncode == 1 and "wrong_pin" in done.stderr
    assert lab.status()["state"] == "closed"
    assert reached(lab, "https://allowed.test/lesson/") is None


def test_a_session_opens_its_resources_and_asset_hosts_and_nothing_else(lab: Lab) -> None:
    unlock(lab)
    assert reached(lab, "https://allowed.test/lesson/") == SITE["allowed"]
    assert reached(lab, "http://allowed.test/lesson/") == SITE["allowed"]
    assert reached(lab, "https://cdn.test/lib.js") == SITE["cdn"]
    for url in (
        "https://other.test/",
        "http://other.test/",
        "https://203.0.113.20/",
        "https://dns.test/dns-query",
        "http://allowed.test:8080/",
    ):
        assert reached(lab, url) is None, url
    assert "echo:" not in lab.student("/usr/bin/python3", "-c", UDP_PROBE).stdout
    blocked = lab.status()["blocked_counts"]
    assert blocked.get("other.test", 0) >= 2 and "allowed.test" not in blocked


def test_a_forged_name_does_not_reach_the_address_the_client_picked(lab: Lab) -> None:
    # TLS: SNI allowed.test, but connecting to other.test's address.
    forged_tls = reached(lab, "https://allowed.test/", "--resolve", "allowed.test:443:203.0.113.20")
    assert forged_tls == SITE["allowed"]
    # HTTP: Host allowed.test sent to other.test's address.
    assert reached(lab, "http://203.0.113.20/", "-H", "Host: allowed.test") == SITE["allowed"]


@pytest.mark.chromium
def test_chromium_blocks_an_off_objective_path_on_an_allowed_host(lab: Lab) -> None:
    from tests.e2e.chromium import student_chromium

    # Written by the agent into the device's /etc (a private overlay), not the host's.
    policy = json.loads(
        lab.device_file("/etc/chromium/policies/managed/lessongate.json").read_text()
    )
    assert policy["URLBlocklist"][0] == "*"
    assert any("allowed.test/lesson" in p for p in policy["URLAllowlist"])
    with student_chromium(lab) as outcome:
        assert outcome("https://allowed.test/lesson/") == "loaded"
        assert outcome("https://allowed.test/games/") == "blocked by policy"
        assert outcome("https://other.test/") == "blocked by policy"


def test_a_denied_program_started_by_the_student_is_ended_and_reported(lab: Lab) -> None:
    exe = lab.dir / DENIED
    shutil.copy("/bin/sleep", exe)
    exe.chmod(0o755)
    proc = lab.student_spawn(str(exe), "300")
    try:
        proc.wait(30)  # bounded; ended by the agent long before (time not asserted)
    except subprocess.TimeoutExpired:
        pytest.fail("the denied program is still running")

    def reported() -> bool:
        return any(
            e["type"] == "process_ended" and e["data"]["name"] == DENIED for e in lab.events()
        )

    assert wait_for(reported)
    event = next(e for e in lab.events() if e["type"] == "process_ended")
    assert event["data"]["rule"] == DENIED and event["data"]["uid"] == 65534


def test_agent_killed_stays_closed_then_restarts_into_its_session(lab: Lab) -> None:
    session = str(lab.status()["session_id"])
    assert reached(lab, "https://allowed.test/lesson/") == SITE["allowed"]  # still open
    lab.kill_agent()
    assert "redirect to :3129" in lab.nft_table()  # the rules outlive the agent
    assert_closed(lab)
    restarted = lab.start_agent()
    assert (restarted["state"], restarted["session_id"]) == ("open", session)
    assert reached(lab, "https://allowed.test/lesson/") == SITE["allowed"]
    assert any(e["type"] == "session_resumed" for e in lab.events())


def test_end_of_session_closes_again(lab: Lab) -> None:
    assert lab.end().returncode == 0
    assert lab.status()["state"] == "closed"
    assert_closed(lab)
    backends = lab.status()["enforcement"]["backends"]
    assert {b["name"] for b in backends} >= {"proxy", "nftables", "browser-policy", "processes"}
    assert all(b["ok"] for b in backends), backends


def test_expiry_closes_again(lab: Lab) -> None:
    """With the agent's test hook a session minute lasts a second: a real session runs out."""
    lab.stop_agent()
    assert lab.start_agent(minutes_are_seconds=True)["state"] == "closed"
    unlock(lab, minutes=30)  # room for the checks below on a loaded machine
    assert reached(lab, "https://allowed.test/lesson/") == SITE["allowed"]
    assert wait_for(lambda: lab.status()["state"] == "closed", limit=90)
    assert_closed(lab)
    ended = [e for e in lab.events() if e["type"] == "session_ended"]
    assert ended[-1]["data"]["reason"] == "expired"


def test_only_its_code_disables_enforcement_and_enable_closes_again(lab: Lab) -> None:
    wrong = lab.cli("disable", "--code-stdin", stdin="not-the-code\n")
    assert wrong.returncode == 1 and "wrong_code" in wrong.stderr
    assert "redirect to :3129" in lab.nft_table()
    assert reached(lab, "http://other.test/") is None

    right = lab.cli("disable", "--code-stdin", stdin=DISABLE_CODE + "\n")
    assert right.returncode == 0, right.stderr
    status = lab.status()
    assert status["enforcement"]["mode"] == "disabled"
    assert lab.nft_table() == ""  # the table is gone: the student's traffic goes direct
    assert reached(lab, "http://other.test/") == SITE["other"]
    assert not lab.device_file("/etc/chromium/policies/managed/lessongate.json").exists()

    assert lab.cli("enable").returncode == 0
    assert lab.status()["enforcement"]["mode"] == "enforce"
    assert_closed(lab)
    kinds = [e["type"] for e in lab.events()]
    assert kinds.count("disable_refused") == 1 and kinds.count("enforcement_disabled") == 1
    assert DISABLE_CODE not in (lab.state / "events.jsonl").read_text()
