"""`make demo`: the whole of LessonGate on this machine, without touching it.

Checks and explains the bundled policy, then starts `lessongate-server serve` (SQLite in a temp
folder, 127.0.0.1, a free port), imports the policy, creates a demo IT admin and a demo teacher
for room lab-3a, enrolls a local agent (`demo-device`, room lab-3a) in safe mode (enforce = false:
an explicit proxy on loopback; the host's firewall and browser policies are left alone), opens
the student panel when there is a display, and prints what to try. Ctrl-C stops everything.

`--check` runs it end to end without a person: blocked before the lesson, a lesson started from
the dashboard as the teacher, allowed during it, blocked again after it ends; exit 0 when all of
that happened. The check runs in a private network namespace (`unshare --net`, loopback only),
so even the "allowed" request cannot leave the machine: the proxy lets it through and then finds
no route (502), which is the proof that it decided to allow it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ROOM, OBJECTIVE, TARGET = "lab-3a", "NGSS.3-ESS2-1", "spaceplace.nasa.gov"
TARGET_URL = f"https://{TARGET}/seasons/en/"
ADMIN, TEACHER = "demo-it", "demo-teacher"
IN_NETNS = "--in-private-network"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def say(text: str = "") -> None:
    print(text, flush=True)


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            found = check()
            if found:
                return found
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class Dashboard:
    """The teacher's side, through the dashboard's own forms (session cookie + CSRF token)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def _csrf(self, path: str) -> str:
        page = self.http.get(self.url + path, timeout=10)
        page.raise_for_status()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if not found:
            raise RuntimeError(f"no CSRF token on {path}")
        return found.group(1)

    def login(self, username: str, password: str) -> None:
        form = {"username": username, "password": password, "csrf_token": self._csrf("/login")}
        r = self.http.post(self.url + "/login", data=form, timeout=30, allow_redirects=False)
        if r.status_code != 303:
            raise RuntimeError(f"sign-in as {username} failed: HTTP {r.status_code}")

    def act(self, room: str, action: str, **form: Any) -> None:
        data = {"csrf_token": self._csrf(f"/rooms/{room}"), **form}
        r = self.http.post(
            f"{self.url}/rooms/{room}/{action}", data=data, timeout=30, allow_redirects=False
        )
        if r.status_code != 303:
            raise RuntimeError(f"{action} for room {room} failed: HTTP {r.status_code}")


def proxy_answer(port: int, host: str = TARGET) -> int:
    """The HTTP status the agent's proxy gives a CONNECT (what curl --proxy does first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.settimeout(20)
        s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        head = s.recv(200).decode("latin-1")
    return int(head.split()[1])


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "server"
        self.port, self.proxy_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "agent" / "agent.toml"
        self.env = {**os.environ, "LESSONGATE_KEYRING": "file"}
        self.children: list[subprocess.Popen[bytes]] = []
        self.admin_password = secrets.token_urlsafe(9)
        self.teacher_password = secrets.token_urlsafe(9)
        self.pin = f"{secrets.randbelow(10**6):06d}"

    # ---- processes ----------------------------------------------------------------------

    def server_cli(self, *args: str, stdin: str = "") -> str:
        cmd = [PY, "-m", "server_stub.cli", args[0], "--data-dir", str(self.data), *args[1:]]
        out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=self.env)
        if out.returncode:
            raise RuntimeError(f"lessongate-server {args[0]}: {out.stderr.strip()}")
        return out.stdout.strip()

    def agent_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [PY, "-m", "agent.cli", "--config", str(self.config), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=60)

    def spawn(self, cmd: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.root / log, "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=self.env)
        self.children.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.children):  # panel, agent, then server
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in reversed(self.children):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def status(self) -> dict[str, Any]:
        out = self.agent_cli("status", "--json")
        return json.loads(out.stdout) if out.returncode == 0 else {}

    # ---- the steps ----------------------------------------------------------------------

    def start(self, panel: bool) -> None:
        self.data.mkdir(parents=True)
        self.config.parent.mkdir(parents=True)
        say(f"--- starting the server on {self.url} (SQLite in {self.data})")
        say("    " + self.server_cli("import-policy"))
        self.server_cli(
            "create-admin",
            ADMIN,
            "--name",
            "Demo IT",
            "--password-stdin",
            stdin=f"{self.admin_password}\n",
        )
        self.server_cli(
            "create-teacher",
            TEACHER,
            "--name",
            "Demo Teacher",
            "--room",
            ROOM,
            "--password-stdin",
            stdin=f"{self.teacher_password}\n{self.pin}\n",
        )
        token = self.server_cli("create-enrollment-token", "--room", ROOM, "--uses", "1")
        self.spawn(
            [
                PY,
                "-m",
                "server_stub.cli",
                "serve",
                "--data-dir",
                str(self.data),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            "server.log",
        )
        wait_for("the server", lambda: requests.get(self.url + "/healthz", timeout=2).ok, 60)

        say(f"--- enrolling a local agent in safe mode (state in {self.config.parent / 'state'})")
        self.config.write_text(
            'state_dir = "state"\ndevice_id = "demo-device"\nenforce = false\n'
            f'room = "{ROOM}"\nui_port = 0\nproxy_port = {self.proxy_port}\n'
            f'heartbeat_seconds = 5\nserver_url = "{self.url}"\n'
        )
        enrolled = self.agent_cli("enroll", "--server", self.url, "--token", token)
        if enrolled.returncode:
            raise RuntimeError(f"enroll failed: {enrolled.stderr.strip()}")
        say("    " + enrolled.stdout.strip())
        self.spawn([PY, "-m", "agent.cli", "--config", str(self.config), "run"], "agent.log")
        wait_for("the agent", lambda: (self.status().get("server") or {}).get("policy_bundle"), 60)
        if panel:
            say("--- opening the student panel")
            self.spawn([PY, "-m", "agent.cli", "--config", str(self.config), "panel"], "panel.log")

    def explain(self) -> None:
        curl = f"curl --proxy http://127.0.0.1:{self.proxy_port} {TARGET_URL}"
        say(f"""
=== LessonGate demo is running (Ctrl-C stops everything) ===
Dashboard:   {self.url}/login
  IT admin:  {ADMIN} / {self.admin_password}
  teacher:   {TEACHER} / {self.teacher_password}   (PIN at the device: {self.pin})
Device:      demo-device in room {ROOM}, enrolled; the Internet is closed (no lesson).

Try:
  1. {curl}
       -> blocked now: the proxy answers 403 to the CONNECT.
  2. Sign in as {TEACHER}, open room {ROOM}, pick "{OBJECTIVE}" (weather and seasons), Start.
       (or at the device: the panel's Teacher button, staff id {TEACHER} and the PIN)
  3. {curl}
       -> allowed during the lesson: the proxy lets it through. "Allowed" is the proxy's
          decision; whether the page loads depends on this machine having Internet access.
  4. End the lesson on the dashboard: blocked again.
  Device state: {PY} -m agent.cli --config {self.config} status
Logs in {self.root}
""")

    def check(self) -> None:
        say("--- check: before the lesson")
        before = proxy_answer(self.proxy_port)
        say(f"    CONNECT {TARGET}:443 -> {before}")
        if before != 403:
            raise RuntimeError(f"expected 403 before the lesson, got {before}")
        teacher = Dashboard(self.url)
        teacher.login(TEACHER, self.teacher_password)
        teacher.act(ROOM, "start", objectives=OBJECTIVE, minutes="20")
        wait_for("the lesson to open", lambda: self.status().get("state") == "open", 20)
        during = proxy_answer(self.proxy_port)
        say(
            f"    lesson started from the dashboard; CONNECT {TARGET}:443 -> {during}"
            " (allowed: the proxy let it through; 502 = no route out of the check's network)"
        )
        if during == 403:
            raise RuntimeError("still blocked during the lesson")
        teacher.act(ROOM, "end")
        wait_for("the device to close", lambda: self.status().get("state") == "closed", 20)
        after = proxy_answer(self.proxy_port)
        say(f"    lesson ended; CONNECT {TARGET}:443 -> {after}")
        if after != 403:
            raise RuntimeError(f"expected 403 after the lesson, got {after}")
        say("--- check passed")


def policy_preview() -> None:
    """What `make demo` printed before the server existed: the policy, checked and explained."""
    tool = [PY, "-m", "policies.cli"]
    steps = [
        ("", ["check", "policies/default"]),
        (
            "room lab-3a, closed (no lesson running):",
            [
                "explain",
                "policies/default",
                "--room",
                ROOM,
                TARGET_URL,
                "https://accounts.google.com/",
            ],
        ),
        (
            "room lab-3a during a lesson on NGSS.3-ESS2-1 (weather and seasons):",
            [
                "explain",
                "policies/default",
                "--room",
                ROOM,
                "--objective",
                OBJECTIVE,
                TARGET_URL,
                "https://www.youtube.com/",
                f"https://translate.google.com/translate?u={TARGET_URL}",
            ],
        ),
    ]
    for title, args in steps:
        if title:
            say(f"--- {title}")
        say("$ lessongate-policy " + " ".join(args))
        subprocess.run([*tool, *args], cwd=ROOT, check=True)


def bring_loopback_up() -> None:
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="run end to end unattended, exit 0/1")
    p.add_argument(IN_NETNS, action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.check and not args.in_private_network:
        unshare = shutil.which("unshare")
        if unshare is None:
            say("demo --check needs `unshare` (util-linux) for its private network")
            return 2
        extra = [] if os.geteuid() == 0 else ["--map-root-user"]
        cmd = [unshare, "--net", *extra, PY, __file__, "--check", IN_NETNS]
        return subprocess.run(cmd).returncode
    if args.in_private_network:
        bring_loopback_up()
    if not args.check:
        policy_preview()
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    root = Path(tempfile.mkdtemp(prefix="lessongate-demo-"))
    demo = Demo(root)
    try:
        demo.start(panel=bool(os.environ.get("DISPLAY")) and not args.check)
        if args.check:
            demo.check()
            return 0
        demo.explain()
        while not stop["now"]:
            time.sleep(0.2)
        say("\n--- stopping")
        return 0
    except (RuntimeError, OSError, requests.RequestException) as e:
        say(f"demo failed: {e} (logs in {root})")
        for log in ("server.log", "agent.log"):
            with contextlib.suppress(OSError):
                say(f"--- {log} (last lines)\n" + (root / log).read_text()[-2000:])
        return 1
    finally:
        demo.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
