from __future__ import annotations

from agent.enforce.proxy.http_host import NEED_MORE, BadRequest, RequestHead, RequestHeadReader


def read(data: bytes, default_port: int = 80, limit: int = 16 * 1024) -> object:
    return RequestHeadReader(default_port, limit).feed(data)


def test_origin_form_takes_the_host_header() -> None:
    head = read(b"GET /a?b HTTP/1.1\r\nHost: Allowed.Test:8080\r\nX: y\r\n\r\nbody")
    assert isinstance(head, RequestHead)
    assert (head.host, head.port, head.form, head.rest) == ("allowed.test", 8080, "origin", b"body")


def test_connect_takes_the_authority() -> None:
    head = read(b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
    assert isinstance(head, RequestHead)
    assert (head.host, head.port, head.form) == ("allowed.test", 443, "authority")


def test_absolute_form_is_rewritten_for_the_origin() -> None:
    head = read(b"GET http://allowed.test/x/y?q=1 HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
    assert isinstance(head, RequestHead)
    assert head.host == "allowed.test" and head.port == 80
    assert head.for_upstream() == (
        b"GET /x/y?q=1 HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n"
    )


def upstream_head(data: bytes) -> bytes:
    head = read(data)
    assert isinstance(head, RequestHead)
    return head.for_upstream()


def test_the_upstream_is_asked_to_close_after_the_judged_request() -> None:
    keep = b"GET /a HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n"
    assert upstream_head(keep + b"Accept: */*\r\n\r\n") == (
        b"GET /a HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    # Bare newlines and a folded Connection header: the fold goes with the header it continues.
    folded = b"GET / HTTP/1.0\nHost: a.test\nConnection:\n keep-alive\nX: 1\n more\n\n"
    assert upstream_head(folded) == (
        b"GET / HTTP/1.0\r\nHost: a.test\r\nX: 1 more\r\nConnection: close\r\n\r\n"
    )


def test_an_h2c_upgrade_is_dropped_and_a_websocket_upgrade_kept() -> None:
    h2c = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    h2c += b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
    assert upstream_head(h2c) == b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    ws = b"GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
    ws += b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    assert upstream_head(ws) == (
        b"GET /chat HTTP/1.1\r\nHost: a.test\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Upgrade: websocket\r\nConnection: upgrade, close\r\n\r\n"
    )


def test_ipv6_literal_host() -> None:
    head = read(b"GET / HTTP/1.1\r\nHost: [2001:DB8::1]\r\n\r\n")
    assert isinstance(head, RequestHead) and head.host == "2001:db8::1"


def test_head_arriving_byte_by_byte() -> None:
    data = b"GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n"
    reader = RequestHeadReader()
    results = [reader.feed(data[i : i + 1]) for i in range(len(data))]
    assert all(r is NEED_MORE for r in results[:-1])
    assert isinstance(results[-1], RequestHead) and results[-1].host == "slow.test"


def test_bad_requests_are_refused_with_a_reason() -> None:
    cases = {
        b"GET / HTTP/1.1\r\n\r\n": "no Host header",
        b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n": "more than one Host",
        b"\x16\x03\x01garbage\r\n\r\n": "not an HTTP/1.x request line",
        b"GET ftp://a.test/ HTTP/1.1\r\n\r\n": "only http://",
        b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n": "not a valid host name",
        b"GET http://user@a.test/ HTTP/1.1\r\n\r\n": "only http://",
    }
    for data, reason in cases.items():
        result = read(data)
        assert isinstance(result, BadRequest), data
        assert reason in result.reason, (data, result.reason)


def test_a_huge_head_is_refused_at_the_limit() -> None:
    reader = RequestHeadReader(limit=1024)
    result = reader.feed(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
    for _ in range(100):
        result = reader.feed(b"X-Filler: " + b"a" * 100 + b"\r\n")
        if result is not NEED_MORE:
            break
    assert isinstance(result, BadRequest) and result.status == 431
