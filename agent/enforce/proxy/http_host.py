"""HTTP/1.x request head reader: method, target and the host a request is for.

Pure and incremental like `sni.ClientHelloReader`. The head (request line + headers) must fit in
`limit` bytes; anything longer, or not HTTP/1.x, is `BadRequest` and the proxy blocks it.

- origin-form (`GET /path` + `Host:`): transparent mode; the host comes from the Host header;
- absolute-form (`GET http://host/path`): explicit proxy mode; the host comes from the URL;
- authority-form (`CONNECT host:443`): explicit proxy mode, a tunnel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from agent.enforce.proxy.hostnames import split_host_port
from agent.enforce.proxy.sni import NEED_MORE, _NeedMore

DEFAULT_LIMIT: Final = 16 * 1024
_REQUEST_LINE = re.compile(rb"^([A-Z]{1,20}) (\S{1,8192}) HTTP/1\.[01]$")


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    host: str  # normalized host name or IP literal
    port: int
    form: str  # "origin" | "absolute" | "authority"
    head: bytes  # the head exactly as received, ending with the blank line
    rest: bytes  # bytes after the head already received (a body, a pipelined request)

    def for_upstream(self) -> bytes:
        """The head to send upstream: the target in origin-form, and `Connection: close`.

        The proxy judges only this request's host, then relays the rest of the connection
        unread. Were the connection kept alive, a second request on it could name any host the
        same server answers for (a shared front-end or CDN), so the server is asked to close
        after this answer: RFC 9112 (9.6) has it then ignore anything pipelined behind it.
        Hop-by-hop headers that would keep the connection, or switch it to HTTP/2 (h2c), go; a
        WebSocket upgrade is kept (after it the connection is no longer HTTP)."""
        lines = self.head.split(b"\n")
        method, target, version = lines[0].rstrip(b"\r").split(b" ")
        if self.form == "absolute":
            parts = urlsplit(self.target)
            target = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode()
        kept: list[bytes] = []
        websocket = dropping = False
        for line in (raw.rstrip(b"\r") for raw in lines[1:]):
            if not line:
                continue
            if line[:1] in (b" ", b"\t"):  # obsolete line folding: continues the header before
                if kept and not dropping:
                    kept[-1] += b" " + line.strip()
                continue
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            websocket |= name == b"upgrade" and value.strip().lower() == b"websocket"
            dropping = name in _HOP_BY_HOP
            if not dropping:
                kept.append(line)
        if websocket:
            kept += [b"Upgrade: websocket", b"Connection: upgrade, close"]
        else:
            kept.append(b"Connection: close")
        return b"\r\n".join([b" ".join((method, target, version)), *kept, b"", b""])


# Hop-by-hop headers (RFC 9110 7.6.1) that `for_upstream` replaces or drops.
_HOP_BY_HOP: Final = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"upgrade", b"http2-settings")
)


@dataclass(frozen=True)
class BadRequest:
    reason: str
    status: int = 400


Result = RequestHead | BadRequest | _NeedMore


class RequestHeadReader:
    def __init__(self, default_port: int = 80, limit: int = DEFAULT_LIMIT) -> None:
        self._default_port = default_port
        self._limit = limit
        self._buf = bytearray()
        self._result: Result = NEED_MORE

    def feed(self, data: bytes) -> Result:
        if self._result is not NEED_MORE:
            return self._result
        search_from = max(0, len(self._buf) - 3)
        self._buf += data
        end = self._buf.find(b"\r\n\r\n", search_from)
        size = 4
        if end < 0:
            end = self._buf.find(b"\n\n", max(0, search_from - 1))
            size = 2
        if end < 0:
            if len(self._buf) > self._limit:
                self._result = BadRequest(f"request head larger than {self._limit} bytes", 431)
            return self._result
        if end + size > self._limit:
            self._result = BadRequest(f"request head larger than {self._limit} bytes", 431)
            return self._result
        head, rest = bytes(self._buf[: end + size]), bytes(self._buf[end + size :])
        self._result = parse_head(head, rest, self._default_port)
        return self._result


def parse_head(head: bytes, rest: bytes, default_port: int) -> RequestHead | BadRequest:
    lines = head.split(b"\n")
    match = _REQUEST_LINE.match(lines[0].rstrip(b"\r"))
    if match is None:
        return BadRequest("not an HTTP/1.x request line")
    method, target = match.group(1).decode(), match.group(2).decode("ascii", "replace")
    hosts = [
        line.split(b":", 1)[1].strip()
        for line in lines[1:]
        if line.split(b":", 1)[0].strip().lower() == b"host" and b":" in line
    ]
    if len(hosts) > 1:
        return BadRequest("more than one Host header")
    if method == "CONNECT":
        host, port = split_host_port(target, None)
        form = "authority"
    elif target.startswith("/") or target == "*":
        if not hosts:
            return BadRequest("no Host header")
        host, port = split_host_port(hosts[0].decode("ascii", "replace"), default_port)
        form = "origin"
    else:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.netloc or "@" in parts.netloc:
            return BadRequest("only http:// URLs can be proxied without CONNECT")
        host, port = split_host_port(parts.netloc, 80)
        form = "absolute"
    if host is None or port is None:
        return BadRequest("host is not a valid host name")
    return RequestHead(method, target, host, port, form, head, rest)
