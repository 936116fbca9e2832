"""A fault-injecting reverse proxy between the agent and the real server (loopback only).

Modes: "pass" forwards; "500" answers every request with a server error; "hang" accepts and
never answers; "close" drops the connection without a word; "garbage" answers 200 with bytes
that are not JSON; "badsig" forwards but corrupts the signature of every policy bundle;
"swallow" forwards, then never answers (the server has the request, the agent no reply).
`after_events = (n, mode)` switches to `mode` once n event batches have passed.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.agent.report.harness import free_port

MODES = ("pass", "500", "hang", "close", "garbage", "badsig", "swallow")


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.after_events: tuple[int, str] | None = None
        self.event_posts = 0
        self.swallowed: list[str] = []  # paths the server answered and the agent never heard back
        self.seen: dict[str, int] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            def do_POST(self) -> None:
                proxy.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mode = "pass"
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.command == "POST" and h.path.startswith("/api/v1/events"):
            self.event_posts += 1
            if self.after_events and self.event_posts > self.after_events[0]:
                self.mode = self.after_events[1]
        mode = self.mode
        self.seen[mode] = self.seen.get(mode, 0) + 1
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if mode == "hang":
            self._hang(h, mode)
            return
        if mode == "close":
            h.close_connection = True
            h.connection.close()
            return
        if mode == "500":
            self._reply(h, 500, b'{"detail":"injected"}', {"Content-Type": "application/json"})
            return
        if mode == "garbage":
            self._reply(h, 200, b"\x00not json{{", {"Content-Type": "application/json"})
            return
        headers = {
            k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length")
        }
        r = requests.request(
            h.command,
            self.upstream + h.path,
            data=body,
            headers=headers,
            timeout=60,
            allow_redirects=False,
        )
        if mode == "swallow":
            self.swallowed.append(h.path)
            self._hang(h, mode)
            return
        out = r.content
        if mode == "badsig" and h.path.startswith("/api/v1/policy") and r.status_code == 200:
            doc = r.json()
            sig = bytearray(base64.b64decode(doc["signature"]))
            sig[0] ^= 0xFF
            doc["signature"] = base64.b64encode(bytes(sig)).decode()
            out = json.dumps(doc).encode()
        keep = {
            k: v
            for k, v in r.headers.items()
            if k.lower() in ("content-type", "etag", "www-authenticate")
        }
        self._reply(h, r.status_code, out, keep)

    def _hang(self, h: BaseHTTPRequestHandler, mode: str) -> None:
        end = time.monotonic() + 60
        while self.mode == mode and time.monotonic() < end:
            time.sleep(0.05)
        h.close_connection = True

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if status != 304:
            h.wfile.write(body)
