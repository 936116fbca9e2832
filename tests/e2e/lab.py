"""The e2e lab: an "internet" and a "device" network namespace joined by a veth pair, with the
real `lessongate-agent run` (enforce = true) on the device.

internet (198.51.100.1, sites on 203.0.113.0/24) <-veth-> device (198.51.100.2, default route)

The device also has its own mount namespace, held open by a `sleep` process: /etc and /usr/lib
are overlays whose changes live on a tmpfs of that namespace only, so the agent's browser
policies (/etc/chromium/..., /usr/lib/firefox/...) never reach the host, and /etc/resolv.conf
names the test DNS server. The agent, the student's programs and the CLI all enter it.

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
import time
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from tests.e2e.certs import make_certs
from tests.e2e.internet import SITES

REPO = Path(__file__).resolve().parents[2]
AGENT = str(Path(sys.executable).parent / "lessongate-agent")
PROXY_PORT = 3129
UI_PORT = 8765
# Unique per lab: the process watcher sees every process on the machine (no pid namespace), so
# two labs at once (a test and a bench) must not end each other's student programs.
DENIED = f"lgtor{os.getpid()}"
TEACHER, PIN = "t-e2e", "4821"
DISABLE_CODE = "e2e-it-code-2468"  # a test code: its hash is in this lab's policy only
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only
OBJECTIVE = "E2E.SCI-1"
DROP_PRIVILEGES = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")

POLICY = {
    "district.toml": f"""
name = "E2E District"
never_allow = ["dns.test"]
denied_processes = ["{DENIED}"]
disable_code_hash = "{FAST_HASH.hash(DISABLE_CODE)}"
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
    "objectives/e2e.toml": f"""
[[objective]]
id = "{OBJECTIVE}"
title = "An objective with one resource and an asset host"
band = "3-5"
subject = "Science"
  [[objective.resources]]
  title = "The lesson page"
  url = "https://allowed.test/lesson/"
  assets = ["cdn.test"]
""",
}

# The device's mount namespace: overlays on a private tmpfs, then the test resolver.
DEVICE_FS = """set -e
mount -t tmpfs -o mode=0700 lg-e2e "$1"
mkdir "$1/etc" "$1/etc.work" "$1/lib" "$1/lib.work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/etc.work" /etc
mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$1/lib,workdir=$1/lib.work" /usr/lib
mount --bind "$2" /etc/resolv.conf
echo ready
exec sleep 86400
"""


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
        self.state = self.dir / "state"
        self.config = self.dir / "agent.toml"
        self.procs: list[subprocess.Popen[str]] = []
        self.holder: subprocess.Popen[str] | None = None
        self.agent: subprocess.Popen[str] | None = None
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
        self._write_agent_files()
        internet = self._spawn(  # first: benches swap it as procs[0]
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
        device_fs = self.dir / "device-fs"
        device_fs.mkdir(mode=0o700)
        self.holder = self._spawn(
            [
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
                DEVICE_FS,
                "sh",
                str(device_fs),
                str(self.resolv),
            ]
        )
        self._expect(self.holder, "ready")

    def _write_agent_files(self) -> None:
        self.policy = self.dir / "policy"
        for rel, text in POLICY.items():
            (self.policy / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.policy / rel).write_text(text)
        digest = FAST_HASH.hash(PIN)
        teachers = self.dir / "teachers.toml"
        teachers.write_text(f'[teachers]\n"{TEACHER}" = "{digest}"\n')
        teachers.chmod(0o600)
        # enforce = true: safe here, and only here, inside the lab's own namespaces.
        self.config.write_text(
            f'state_dir = "{self.state}"\npolicy_dir = "{self.policy}"\n'
            f'verifier_file = "{teachers}"\ndevice_id = "e2e-device"\nroom = "lab-e2e"\n'
            f"ui_port = {UI_PORT}\nproxy_port = {PROXY_PORT}\nenforce = true\n"
            f'resolvers = ["{SITES["dns.test"]}"]\n'
        )

    def down(self) -> None:
        for proc in reversed(self.procs):  # the holder last: it keeps the device's mounts
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for ns in (self.dev, self.inet):
            run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the agent -----------------------------------------------------------------------------
    def start_agent(self, *, minutes_are_seconds: bool = False) -> dict[str, Any]:
        """The real `lessongate-agent run`; returns its first `status --json`."""
        env = ["env", "LESSONGATE_TEST_MINUTES_ARE_SECONDS=1"] if minutes_are_seconds else []
        argv = [*env, *self.agent_prefix, AGENT, "--config", str(self.config), "run"]
        self.agent = self._spawn(self.in_device(argv), quiet=True)
        deadline = time.monotonic() + 60
        while True:
            done = self.cli("status", "--json")
            if done.returncode == 0:
                return json.loads(done.stdout)  # type: ignore[no-any-return]
            if self.agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the agent did not come up: {done.stderr.strip()}\n{self.agent_log()}"
                )
            time.sleep(0.1)

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`lessongate-agent` as root on the device, over the control socket."""
        return subprocess.run(
            self.in_device([AGENT, "--config", str(self.config), *args]),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def unlock(self, minutes: int | None = None) -> subprocess.CompletedProcess[str]:
        more = ["--minutes", str(minutes)] if minutes is not None else []
        args = ["unlock", "--teacher", TEACHER, "--objective", OBJECTIVE, *more, "--pin-stdin"]
        return self.cli(*args, stdin=PIN + "\n")

    def end(self) -> subprocess.CompletedProcess[str]:
        return self.cli("end")

    def command(self, text: str) -> str:
        """The stand-in agent's old one-line commands, for benches: open, close, status."""
        words = text.split()
        if words[0] == "open":
            done = self.cli(
                "unlock",
                "--teacher",
                TEACHER,
                *(arg for oid in words[1:] for arg in ("--objective", oid)),
                "--pin-stdin",
                stdin=PIN + "\n",
            )
            return "ok open" if done.returncode == 0 else f"error {done.stderr.strip()}"
        if words[0] == "close":
            done = self.end()
            return "ok closed" if done.returncode == 0 else f"error {done.stderr.strip()}"
        status = self.status()
        if words[0] == "blocked":
            return "blocked " + json.dumps(status["blocked_counts"])
        return "status " + json.dumps(status["enforcement"]["backends"])

    def kill_agent(self) -> None:
        assert self.agent is not None
        os.kill(self.agent.pid, signal.SIGKILL)  # the pid is the agent itself (exec chain)
        self.agent.wait(10)

    def stop_agent(self) -> None:
        assert self.agent is not None
        self.agent.terminate()
        self.agent.wait(30)

    def events(self) -> list[dict[str, Any]]:
        """The agent's own event log (what it would deliver to the server)."""
        try:
            text = (self.state / "events.jsonl").read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def device_file(self, path: str) -> Path:
        """A file as the device sees it (through its mount namespace), e.g. a browser policy."""
        assert self.holder is not None
        return Path(f"/proc/{self.holder.pid}/root") / path.lstrip("/")

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
        """argv in the device's network and mount namespaces (plus its own private mount
        namespace for `mounts`, shell commands ending in "&&"), maybe as nobody."""
        assert self.holder is not None
        ns = f"/proc/{self.holder.pid}/ns"
        enter = ["nsenter", f"--mount={ns}/mnt", f"--net={ns}/net", "--"]
        prefix = list(DROP_PRIVILEGES) if student else []
        if not mounts:
            return [*enter, *prefix, *argv]
        script = f'{mounts} exec "$@"'
        private = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        return [*enter, *private, *prefix, *argv]

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
    def _spawn(
        self, argv: list[str], stdin: bool = False, *, quiet: bool = False
    ) -> subprocess.Popen[str]:
        """`quiet`: output to <dir>/agent.log instead of a pipe nobody may read."""
        log = open(self.dir / "agent.log", "a") if quiet else None  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                argv,
                cwd=REPO,
                text=True,
                stdout=log or subprocess.PIPE,
                stderr=log,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            )
        finally:
            if log is not None:
                log.close()
        self.procs.append(proc)
        return proc

    def agent_log(self) -> str:
        try:
            return (self.dir / "agent.log").read_text()[-4000:]
        except FileNotFoundError:
            return ""

    def _expect(self, proc: subprocess.Popen[str], prefix: str) -> str:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"process {proc.args!r} ended (exit {proc.poll()})")
            if line.startswith(prefix):
                return line.strip()
