"""What a blocked client receives: a tiny HTTP page (or redirect), or a TLS alert.

No URL and no page content is echoed back except the host name the client itself sent.
"""

from __future__ import annotations

import html
from urllib.parse import quote

# TLS alert record: fatal (2), access_denied (49). Clients show their own "cannot connect" page.
TLS_ACCESS_DENIED = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49])


def blocked_page(host: str, ui_port: int | None) -> bytes:
    """302 to the agent UI's blocked page when it is known, else a plain 403 page."""
    if ui_port is not None:
        location = f"http://127.0.0.1:{ui_port}/blocked?host={quote(host, safe='')}"
        body = (
            "<!doctype html><title>Not part of the lesson</title>"
            f'<a href="{html.escape(location)}">'
            f"{html.escape(host)} is not part of this lesson</a>\n"
        )
        return _response(302, "Found", body, extra=f"Location: {location}\r\n")
    body = (
        "<!doctype html><title>Not part of the lesson</title>"
        f"<p>{html.escape(host)} is not part of this lesson.</p>\n"
    )
    return _response(403, "Forbidden", body)


def error_page(status: int, reason: str, message: str) -> bytes:
    body = f"<!doctype html><title>{status} {reason}</title><p>{html.escape(message)}</p>\n"
    return _response(status, reason, body)


def _response(status: int, reason: str, body: str, extra: str = "") -> bytes:
    data = body.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        f"{extra}\r\n"
    ).encode() + data


CONNECT_OK = b"HTTP/1.1 200 Connection established\r\n\r\n"
