"""The .deb (installer/debian/): contents, maintainer scripts, and a real install, run and purge
inside a throwaway Debian root (tests/installer/throwaway_root.py), never on this machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.installer.throwaway_root import REPO, debian_root, run_in_root

SCRIPTS = ("config", "postinst", "prerm", "postrm")


def _contents(deb: Path) -> dict[str, tuple[str, str, str]]:
    """path -> (mode string, owner/group, link target or '')."""
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries: dict[str, tuple[str, str, str]] = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, rest = line.split(None, 5)
        path, _, target = rest.partition(" -> ")
        entries[path.removeprefix(".").rstrip("/") or "/"] = (mode, owner, target)
    return entries


def test_files_modes_and_owners(deb: Path) -> None:
    files = _contents(deb)
    assert {owner for _, owner, _ in files.values()} == {"root/root"}
    assert files["/opt/lessongate/lessongate-agent/lessongate-agent"][0] == "-rwxr-xr-x"
    mode, _, target = files["/usr/bin/lessongate-agent"]
    assert mode.startswith("l") and target == "/opt/lessongate/lessongate-agent/lessongate-agent"
    assert files["/lib/systemd/system/lessongate-agent.service"][0] == "-rw-r--r--"
    assert files["/etc/lessongate/agent.toml"][0] == "-rw-r--r--"
    assert files["/opt/lessongate/lessongate-agent/_internal/policies/default/district.toml"]
    # Nothing writable by others, nothing setuid.
    for path, (mode, _, _) in files.items():
        if not mode.startswith("l"):
            assert mode[8] != "w" and "s" not in mode, path


def test_control_and_conffiles(deb: Path, tmp_path: Path) -> None:
    info = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"(?m)^Package: lessongate-agent$", info)
    assert re.search(r"(?m)^Depends: .*\bnftables\b", info)
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN")], check=True)
    assert (tmp_path / "DEBIAN" / "conffiles").read_text() == "/etc/lessongate/agent.toml\n"
    for script in SCRIPTS:
        assert os.access(tmp_path / "DEBIAN" / script, os.X_OK), script


def test_maintainer_scripts_pass_shellcheck(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN")], check=True)
    done = subprocess.run(
        ["shellcheck", "--shell=sh", *(str(tmp_path / "DEBIAN" / s) for s in SCRIPTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


# Runs inside the throwaway root. Lines starting with "@ " are what the test reads.
_SCENARIO = r"""
set -u
say() { printf '@ %s\n' "$*"; }
say NETNS "$(readlink /proc/self/ns/net)"
# IT had its own Firefox policy before LessonGate: it must come back after purge.
mkdir -p /etc/firefox/policies
echo '{"policies": {"it": "own"}}' >/etc/firefox/policies/policies.json
# Silent enrollment values; the server cannot be reached from here (no network at all).
mkdir -p /etc/lessongate
printf 'LESSONGATE_SERVER="https://lessongate.invalid"\nLESSONGATE_TOKEN=wrong-token\r\n' \
  >/etc/lessongate/enroll.env
echo 'export LESSONGATE_ROOM=lab-3a' >>/etc/lessongate/enroll.env
dpkg -i /srv/test/agent.deb >/tmp/dpkg-install.log 2>&1
say INSTALL_RC $?
sed 's/^/@ INSTALL_LOG /' /tmp/dpkg-install.log
say USER "$(getent passwd lessongate | cut -d: -f1,7)"
say STATE_MODE "$(stat -c %a /var/lib/lessongate)"
say PENDING_MODE "$(stat -c %a /var/lib/lessongate/enroll.pending 2>/dev/null)"
say ENABLED "$(readlink /etc/systemd/system/multi-user.target.wants/lessongate-agent.service)"
/usr/bin/lessongate-agent --config /etc/lessongate/agent.toml run >/tmp/agent.log 2>&1 &
agent=$!
i=0
while [ "$i" -lt 150 ]; do
  if out=$(lessongate-agent --config /etc/lessongate/agent.toml status --json 2>/dev/null); then
    say STATUS "$(printf '%s' "$out" | tr -d '\n')"
    break
  fi
  i=$((i + 1))
  sleep 0.1
done
say READY_AFTER_TENTHS "$i"
# The enrollment problem shows in status once the agent has tried (bounded: 10 s).
i=0
while [ "$i" -lt 100 ]; do
  out=$(lessongate-agent --config /etc/lessongate/agent.toml status --json 2>/dev/null) || true
  if printf '%s' "$out" | grep -q 'lessongate.invalid'; then
    say STATUS_LATER "$(printf '%s' "$out" | tr -d '\n')"
    break
  fi
  i=$((i + 1))
  sleep 0.1
done
# What an enforcing agent leaves behind, whether or not this build's backends wrote it yet.
nft add table inet lessongate
mkdir -p /etc/chromium/policies/managed
echo '{"URLBlocklist": ["*"]}' >/etc/chromium/policies/managed/lessongate.json
kill "$agent"
wait "$agent"
say AGENT_EXIT $?
sed 's/^/@ AGENT_LOG /' /tmp/agent.log
dpkg --purge lessongate-agent >/tmp/dpkg-purge.log 2>&1
say PURGE_RC $?
sed 's/^/@ PURGE_LOG /' /tmp/dpkg-purge.log
find / -xdev -iname '*lessongate*' | sed 's/^/@ LEFT /'
getent passwd lessongate | sed 's/^/@ LEFT_USER /'
nft list tables | sed 's/^/@ TABLE /'
say FIREFOX "$(cat /etc/firefox/policies/policies.json)"
ls -d /etc/chromium /etc/opt/chrome /etc/opt/edge 2>/dev/null | sed 's/^/@ LEFT_DIR /'
"""


def _markers(stdout: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if line.startswith("@ "):
            key, _, value = line[2:].partition(" ")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture(scope="module")
def scenario(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = debian_root()
    scratch = tmp_path_factory.mktemp("root")
    done = run_in_root(
        root,
        _SCENARIO,
        scratch,
        files={"/srv/test/agent.deb": deb},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return _markers(done.stdout)


def test_root_has_its_own_network_namespace(scenario: dict[str, list[str]]) -> None:
    assert scenario["NETNS"] != [os.readlink("/proc/self/ns/net")]


def test_install_succeeds_with_an_unreachable_server(scenario: dict[str, list[str]]) -> None:
    log = "\n".join(scenario.get("INSTALL_LOG", []))
    assert scenario["INSTALL_RC"] == ["0"], log
    assert "systemd is not running here" in log
    assert scenario["USER"] == ["lessongate:/usr/sbin/nologin"]
    assert scenario["STATE_MODE"] == ["700"]
    assert "enrollment with https://lessongate.invalid failed" in log
    # The agent keeps the failed enrollment itself; the token is not left in a second file.
    assert scenario["PENDING_MODE"] == [""]
    assert scenario["ENABLED"] == ["/lib/systemd/system/lessongate-agent.service"]


def test_agent_comes_up_closed_in_enforce_mode(scenario: dict[str, list[str]]) -> None:
    assert "STATUS" in scenario, "\n".join(scenario.get("AGENT_LOG", []))
    status = json.loads(scenario["STATUS"][0])
    assert status["state"] == "closed"
    assert status["enforcement"]["mode"] == "enforce"
    # The wrong server from the install is shown, and the agent keeps trying.
    later = json.loads(scenario["STATUS_LATER"][0])
    assert later["state"] == "closed"
    assert "lessongate.invalid" in (later["server"]["last_error"] or "")
    assert later["server"]["enrolled"] is False
    assert scenario["AGENT_EXIT"] == ["0"], "\n".join(scenario.get("AGENT_LOG", []))


def test_purge_leaves_nothing_behind(scenario: dict[str, list[str]]) -> None:
    assert scenario["PURGE_RC"] == ["0"], "\n".join(scenario.get("PURGE_LOG", []))
    assert scenario.get("LEFT", []) == []
    assert scenario.get("LEFT_USER", []) == []
    assert scenario.get("TABLE", []) == []
    assert scenario.get("LEFT_DIR", []) == []
    assert scenario["FIREFOX"] == ['{"policies": {"it": "own"}}']


def test_build_scripts_pass_shellcheck() -> None:
    scripts = [REPO / "installer" / "build.sh", REPO / "installer" / "debian" / "build-deb.sh"]
    done = subprocess.run(
        ["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
