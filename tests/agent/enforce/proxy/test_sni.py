from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.enforce.proxy.sni import NEED_MORE, ClientHello, ClientHelloReader, NotTls
from tests.agent.enforce.proxy.hello import client_hello, records


def feed_all(chunks: list[bytes], limit: int = 16 * 1024) -> object:
    reader = ClientHelloReader(limit)
    result: object = NEED_MORE
    for chunk in chunks:
        result = reader.feed(chunk)
    return result


def test_reads_the_server_name_of_a_real_client_hello() -> None:
    assert feed_all([client_hello("Allowed.Test")]) == ClientHello("allowed.test")


def test_a_hello_without_server_name_names_nothing() -> None:
    assert feed_all([client_hello(None)]) == ClientHello(None)


def test_one_byte_at_a_time_gives_the_same_answer() -> None:
    hello = client_hello("www.example.test")
    results = [r for r in (ClientHelloReader().feed(b"") for _ in range(1))]
    assert results == [NEED_MORE]
    reader = ClientHelloReader()
    seen = [reader.feed(hello[i : i + 1]) for i in range(len(hello))]
    assert all(r is NEED_MORE for r in seen[:-1])
    assert seen[-1] == ClientHello("www.example.test")


def test_a_hello_split_over_many_tls_records_is_reassembled() -> None:
    hello = client_hello("split.example.test")
    body = hello[5:]
    assert feed_all([records(body, 7)]) == ClientHello("split.example.test")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=40))
def test_any_segmentation_gives_the_same_answer(cuts: list[int]) -> None:
    hello = client_hello("seg.example.test")
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(hello[pos : pos + cut])
        pos += cut
    chunks.append(hello[pos:])
    assert feed_all(chunks) == ClientHello("seg.example.test")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=2048))
def test_garbage_is_never_a_server_name(data: bytes) -> None:
    result = feed_all([data])
    assert (
        result is NEED_MORE
        or isinstance(result, NotTls)
        or result == ClientHello(None)
        or (isinstance(result, ClientHello) and result.server_name is not None)
    )
    assert not isinstance(result, ClientHello) or data[0] == 0x16


def test_http_instead_of_tls_is_not_tls() -> None:
    assert isinstance(feed_all([b"GET / HTTP/1.1\r\n"]), NotTls)


def test_an_endless_hello_is_refused_at_the_limit() -> None:
    reader = ClientHelloReader(limit=4096)
    header = b"\x16\x03\x01\x40\x00" + b"\x01\xff\xff\xff"
    result = reader.feed(header)
    assert isinstance(result, NotTls)
    reader = ClientHelloReader(limit=4096)
    result = NEED_MORE
    chunk = b"\x16\x03\x01\x00\x01\x01"  # endless one-byte records
    for _ in range(2000):
        result = reader.feed(chunk)
        if result is not NEED_MORE:
            break
    assert isinstance(result, NotTls)


def test_invalid_host_name_in_sni_is_not_judged() -> None:
    hello = client_hello("ok.example.test")
    bad = hello.replace(b"ok.example.test", b"ok.exa mple.tes")
    assert isinstance(feed_all([bad]), NotTls)


def test_ech_extension_is_reported_with_the_outer_name() -> None:
    hello = client_hello("public.example.test")
    # Append an encrypted_client_hello extension (type 0xfe0d) and fix up the three lengths.
    ext = b"\xfe\x0d\x00\x04abcd"
    body = bytearray(hello[9:])
    # Locate the extensions block: after version+random, session id, ciphers, compression.
    pos = 34
    pos += 1 + body[pos]
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 1 + body[pos]
    ext_len = int.from_bytes(body[pos : pos + 2], "big") + len(ext)
    body[pos : pos + 2] = ext_len.to_bytes(2, "big")
    body += ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + bytes(body)
    assert feed_all([records(hs, 16384)]) == ClientHello("public.example.test", ech=True)
