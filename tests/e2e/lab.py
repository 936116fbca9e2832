"""The e2e lab: an "internet" and a "device" network namespace joined by a veth pair.

internet (198.51.100.1, sites on 203.0.113.0/24) <-veth-> device (198.51.100.2, default route)

Everything is created under names carrying this process id and removed in `down()`, which
tests call in a finally (processes first, by pid, then the namespaces).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.e2e.certs import make_certs
from tests.e2e.internet import SITES

REPO = Path(__file__).resolve().parents[2]
PROXY_PORT = 3129
UI_PORT = 8765
DENIED = "lg-e2e-tor"
DROP_PRIVILEGES = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")

POLICY = {
    "district.toml": """
name = "E2E District"
never_allow = ["dns.test"]
[[band]]
id = "3-5"
mode = "supervised"
""",
    "rooms.toml": """
[[room]]
id = "lab-e2e"
name = "E2E Lab"
school = "E2E School"
band = "3-5"
devices = ["e2e-device"]
""",
    "objectives/e2e.toml": """
[[objective]]
id = "E2E.SCI-1"
title = "An objective with one resource and an asset host"
band = "3-5"
subject = "Science"
  [[objective.resources]]
  title = "The lesson page"
  url = "https://allowed.test/lesson/"
  assets = ["cdn.test"]
""",
}


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done


class Lab:
    def __init__(self) -> None:
        pid = os.getpid()
        self.inet, self.dev = f"lgi{pid}", f"lgd{pid}"
        # Shared with the unprivileged student, so world-readable (pytest's tmp dirs are not).
        self.dir = Path(tempfile.mkdtemp(prefix="lessongate-e2e-"))
        self.dir.chmod(0o755)
        self.browser_root = self.dir / "browser-root"
        self.procs: list[subprocess.Popen[str]] = []
        self.agent: subprocess.Popen[str] | None = None
        self.events: list[str] = []  # "event ..." lines the agent printed
        self.agent_prefix: list[str] = []  # e.g. taskset, for benches

    # -- topology ------------------------------------------------------------------------------
    def up(self) -> None:
        for ns in (self.inet, self.dev):
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run(
            "ip",
            "-n",
            self.dev,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.inet,
        )
        run("ip", "-n", self.dev, "addr", "add", "198.51.100.2/24", "dev", "eth0")
        run("ip", "-n", self.inet, "addr", "add", "198.51.100.1/24", "dev", "eth0")
        for ns in (self.inet, self.dev):
            run("ip", "-n", ns, "link", "set", "eth0", "up")
        for address in SITES.values():
            run("ip", "-n", self.inet, "addr", "add", f"{address}/32", "dev", "lo")
        run("ip", "-n", self.dev, "route", "add", "default", "via", "198.51.100.1")
        self.ca, cert, key = make_certs(self.dir)
        for path in self.dir.iterdir():
            path.chmod(0o644)
        self.resolv = self.dir / "resolv.conf"
        self.resolv.write_text(f"nameserver {SITES['dns.test']}\n")
        self.resolv.chmod(0o644)
        self.policy = self.dir / "policy"
        for rel, text in POLICY.items():
            (self.policy / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.policy / rel).write_text(text)
        internet = self._spawn(
            [
                "ip",
                "netns",
                "exec",
                self.inet,
                sys.executable,
                str(REPO / "tests/e2e/internet.py"),
                str(cert),
                str(key),
            ]
        )
        self._expect(internet, "ready")

    def down(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for ns in (self.dev, self.inet):
            run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the agent -----------------------------------------------------------------------------
    def start_agent(self) -> str:
        config = {
            "settings": {
                "proxy_port": PROXY_PORT,
                "state_dir": str(self.dir / "state"),
                "resolvers": [SITES["dns.test"]],
                "ui_port": UI_PORT,
                "denied_processes": [DENIED],
                "root": str(self.browser_root),
            },
            "policy_dir": str(self.policy),
            "room": "lab-e2e",
        }
        path = self.dir / "agent.json"
        path.write_text(json.dumps(config))
        self.agent = self._spawn(
            self.in_device(
                [*self.agent_prefix, sys.executable, "-m", "tests.e2e.device_agent", str(path)]
            ),
            stdin=True,
        )
        return self._expect(self.agent, "ready")

    def command(self, text: str) -> str:
        assert self.agent is not None and self.agent.stdin is not None
        self.agent.stdin.write(text + "\n")
        self.agent.stdin.flush()
        return self._expect(self.agent, text.split()[0] if text in ("status", "blocked") else "")

    def kill_agent(self) -> None:
        assert self.agent is not None
        os.kill(self.agent.pid, signal.SIGKILL)  # the pid is the agent itself (exec chain)
        self.agent.wait(10)

    def nft_table(self) -> str:
        return run(
            "ip",
            "netns",
            "exec",
            self.dev,
            "nft",
            "list",
            "table",
            "inet",
            "lessongate",
            check=False,
        ).stdout

    # -- the student ---------------------------------------------------------------------------
    def in_device(self, argv: list[str], *, student: bool = False, mounts: str = "") -> list[str]:
        """argv in the device namespace, with its resolv.conf (and `mounts`), maybe as nobody."""
        script = f'mount --bind "{self.resolv}" /etc/resolv.conf && {mounts} exec "$@"'
        prefix = list(DROP_PRIVILEGES) if student else []
        return [
            "ip",
            "netns",
            "exec",
            self.dev,
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            *prefix,
            *argv,
        ]

    def student(self, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.in_device(list(argv), student=True),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def curl(self, url: str, *extra: str) -> tuple[int, str]:
        done = self.student("curl", "-sS", "--max-time", "5", "--cacert", str(self.ca), *extra, url)
        return done.returncode, done.stdout

    def student_spawn(self, *argv: str) -> subprocess.Popen[str]:
        return self._spawn(self.in_device(list(argv), student=True))

    # -- helpers -------------------------------------------------------------------------------
    def _spawn(self, argv: list[str], stdin: bool = False) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def _expect(self, proc: subprocess.Popen[str], prefix: str) -> str:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"process {proc.args!r} ended (exit {proc.poll()})")
            if line.startswith("event "):
                self.events.append(line.strip())
                continue
            if line.startswith(prefix):
                return line.strip()
