"""URL rule grammar: Chrome's URLBlocklist/URLAllowlist filter format.

    [scheme://][.]host[:port][/path][?query]

Two readers share one segmentation:

- `chromium_pattern` reads a pattern the way Chromium does (components/url_matcher/url_util.cc,
  `FilterToComponents`), including its quirks: hosts are lower-cased but not canonicalised, so
  `bücher.example` or `%61llowed.org` are accepted and then never match anything; `*.example.com`
  becomes an exact host containing a star. It returns None where Chromium logs "Invalid pattern"
  and drops the entry. The matcher uses it so its decisions equal the browser's.
- `parse_pattern` is what `lessongate-policy check` and the loader use: the same reading, but a
  pattern Chromium would silently ignore, or that cannot mean what its author wrote, is an error
  with the fix suggested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import ada_url

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_DIGITS_RE = re.compile(r"^[0-9]+(?:[/?#]|$)")
# Schemes whose URLs have a host, and their default ports (url/url_constants.h).
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


class PatternError(ValueError):
    """A pattern Chromium would reject or silently ignore; `hint` says how to write it instead."""

    def __init__(self, pattern: str, message: str, hint: str = "") -> None:
        super().__init__(f"{pattern!r}: {message}" + (f" ({hint})" if hint else ""))
        self.pattern = pattern
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class QueryCondition:
    """One `key[=value][*]` token of a pattern's query."""

    key: str
    value: str | None  # None: the token names a key only
    prefix: bool  # the token ended in `*`


# Not frozen: frozen dataclasses pay for every field set, and a policy has 100,000 of these.
# Nothing mutates a pattern after it is built.
@dataclass(slots=True)
class UrlPattern:
    text: str
    scheme: str  # "" matches every scheme
    host: str  # lower-case, without the leading dot; "" matches every host
    match_subdomains: bool
    port: int  # 0 matches every port
    path: str  # a prefix of the URL's path; "" matches every path
    query: tuple[QueryCondition, ...]
    # The host as the matcher indexes it: trailing dots do not make another host.
    host_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.host_key = self.host.rstrip(".")

    @property
    def is_wildcard(self) -> bool:
        """The bare `*`: in a blocklist, the lowest-priority rule of all."""
        return (
            self.host == ""
            and self.scheme == ""
            and self.path == ""
            and not self.query
            and self.port == 0
            and self.match_subdomains
        )

    @property
    def host_length(self) -> int:
        # Chromium keeps subdomain hosts with a leading dot and compares those lengths.
        return len(self.host) + 1 if self.match_subdomains and self.host else len(self.host)


@dataclass(frozen=True, slots=True)
class _Segments:
    scheme: str
    scheme_wildcard: bool
    userinfo: str | None
    host: str
    port: str | None
    path: str
    query: str | None
    fragment: str | None


def _segment(text: str) -> _Segments | None:
    """Split a pattern into components, the way url_formatter::SegmentURL does for filters."""
    scheme = ""
    rest = text
    m = _SCHEME_RE.match(text)
    # `example.com:8080` is a host and a port, not the scheme `example.com`.
    if m and not _DIGITS_RE.match(text[m.end() :]):
        scheme = m.group(1).lower()
        rest = text[m.end() :]
        if rest in ("*", "//*"):
            return _Segments(scheme, True, None, "", None, "", None, None)
        if scheme not in DEFAULT_PORTS and not rest.startswith("//"):
            return None  # mailto:, javascript: and the like have no host to match
        rest = rest.lstrip("/\\") if scheme in DEFAULT_PORTS else rest[2:]
    fragment = None
    if "#" in rest:
        rest, fragment = rest.split("#", 1)
    query = None
    if "?" in rest:
        rest, query = rest.split("?", 1)
    cut = len(rest)
    for sep in "/\\":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    authority, path = rest[:cut], rest[cut:]
    userinfo = None
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
    port = None
    if authority.startswith("["):
        end = authority.find("]")
        host, after = (authority, "") if end == -1 else (authority[: end + 1], authority[end + 1 :])
        if after.startswith(":"):
            port = after[1:]
    elif ":" in authority:
        host, port = authority.split(":", 1)
    else:
        host = authority
    return _Segments(scheme, False, userinfo, host, port, path, query, fragment)


# An ASCII DNS name whose last label is not a number: no canonicalisation can change its family,
# so the common case skips the full URL parser.
_PLAIN_NAME_RE = re.compile(r"^(?!.*xn--)[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$")
_NUMERIC_LABEL_RE = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


@lru_cache(maxsize=4096)
def _host_family(host: str) -> str:
    """'ipv4', 'ipv6', 'neutral' (a name) or 'broken', as Chromium's CanonicalizeHostVerbose."""
    lower = host.lower()
    if _PLAIN_NAME_RE.match(lower) and not _NUMERIC_LABEL_RE.match(
        lower.rstrip(".").rsplit(".", 1)[-1]
    ):
        return "neutral"
    if host.startswith("["):
        try:
            return "ipv6" if ada_url.URL(f"http://{host}/").hostname.startswith("[") else "broken"
        except ValueError:
            return "broken"
    try:
        canon = ada_url.URL(f"http://{host}/").hostname
    except ValueError:
        return "broken"
    if canon and all(part.isdigit() for part in canon.split(".")) and canon.count(".") == 3:
        return "ipv4"
    return "neutral"


def _query_conditions(query: str) -> tuple[QueryCondition, ...]:
    conditions: dict[QueryCondition, None] = {}  # a set, in order: Chromium keeps a std::set
    for token in query.split("&"):
        # An empty token stays: Chromium reads it as the key "" (which then rarely matches).
        key, sep, value = token.partition("=")
        if not sep:
            prefix = key.endswith("*")
            conditions[QueryCondition(key[:-1] if prefix else key, None, prefix)] = None
        else:
            prefix = value.endswith("*")
            conditions[QueryCondition(key, value[:-1] if prefix else value, prefix)] = None
    return tuple(conditions)


# `[http[s]://][.]host[/path]` with a lower-case ASCII name: most patterns IT writes. Read
# directly, it gives the same result as the general path below, several times faster.
_SIMPLE_RE = re.compile(
    r"(?:(https?)://)?(\.?)((?!.*xn--)[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(/[^?#\\@:*\s]*)?"
)


def chromium_pattern(text: str) -> UrlPattern | None:
    """Read `text` as Chromium does; None where Chromium drops the pattern as invalid."""
    m = _SIMPLE_RE.fullmatch(text)
    if m and not _NUMERIC_LABEL_RE.match(m.group(3).rsplit(".", 1)[-1]):
        scheme, dot, host, path = m.groups()
        return UrlPattern(text, scheme or "", host, not dot, 0, path or "", ())
    seg = _segment(text)
    if seg is None:
        return None
    if seg.scheme_wildcard:
        return UrlPattern(text, seg.scheme, "", True, 0, "", ())
    if not seg.host or (seg.userinfo is not None and ":" in seg.userinfo):
        return None  # Chromium reports `user:password@host` as a parsing error
    host = seg.host.lower()
    if host == "*":
        host, subdomains = "", True
    elif host.startswith("."):
        host, subdomains = host[1:], False
    else:
        subdomains = _host_family(seg.host) == "neutral"
    port = 0
    if seg.port:
        if not seg.port.isdigit() or not 0 < int(seg.port) <= 0xFFFF:
            return None
        port = int(seg.port)
    query = _query_conditions(seg.query) if seg.query else ()
    return UrlPattern(text, seg.scheme, host, subdomains, port, seg.path, query)


def parse_pattern(text: str) -> UrlPattern:
    """Read a pattern strictly: anything Chromium would ignore or misread is a PatternError."""
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise PatternError(text, "contains spaces or is empty", "write the pattern without spaces")
    seg = _segment(text)
    if seg is None:
        raise PatternError(
            text, "has no host", "write host names like example.com or https://example.com/path"
        )
    if text.startswith("*://") or text.startswith("*:"):
        raise PatternError(
            text,
            "Chromium ignores '*' as a scheme",
            f"leave the scheme out to match every scheme: {text.split('://', 1)[-1]}",
        )
    if seg.scheme_wildcard:
        return _checked(text)
    _check_host(text, seg.host)
    if seg.userinfo is not None:
        raise PatternError(
            text,
            "has a user name before '@'; browsers match the host after it",
            f"write the host only: {seg.host}",
        )
    if seg.fragment is not None:
        raise PatternError(text, "has a '#fragment', which browsers never match", "remove it")
    if seg.port is not None and (not seg.port.isdigit() or not 0 < int(seg.port) <= 0xFFFF):
        raise PatternError(text, f"port {seg.port!r} is not 1-65535", "fix or remove the port")
    if "\\" in text:
        raise PatternError(text, "contains a backslash", "use '/' in paths")
    _check_path(text, seg.path)
    if seg.query is not None and any(not t for t in seg.query.split("&")):
        raise PatternError(text, "has an empty query token", "write ?key=value&key2")
    return _checked(text)


def _checked(text: str) -> UrlPattern:
    pattern = chromium_pattern(text)
    if pattern is None:  # _segment agreed above, so this is a port or host Chromium rejects
        raise PatternError(text, "is not a valid URL filter", "see the URL blocklist filter format")
    return pattern


def _check_host(text: str, raw_host: str) -> None:
    host = raw_host[1:] if raw_host.startswith(".") else raw_host
    if host == "*":
        return
    if "*" in host:
        raise PatternError(
            text,
            "Chromium silently ignores a '*' inside a host name",
            f"write {host.replace('*.', '')} (it already matches every subdomain)"
            f" or .{host.replace('*.', '')} for that host alone",
        )
    if not host:
        raise PatternError(text, "has no host", "write example.com or * for every host")
    try:
        canon = ada_url.URL(f"http://{host}/").hostname
    except ValueError:
        raise PatternError(
            text, f"{host!r} is not a valid host name", "check the spelling"
        ) from None
    if canon != host.lower().rstrip(".") and canon != host.lower():
        raise PatternError(
            text,
            f"Chromium compares the host as written, and browsers write {host!r} as {canon!r}",
            f"write {canon}",
        )


def _check_path(text: str, path: str) -> None:
    if not path:
        return
    if "*" in path:
        raise PatternError(
            text, "has a '*' in its path; paths are prefixes already", "remove the '*'"
        )
    try:
        canon = ada_url.URL(f"http://h{path}").pathname
    except ValueError:
        raise PatternError(text, f"path {path!r} is not valid", "check the path") from None
    if canon != path:
        raise PatternError(
            text,
            f"Chromium compares the path as written, and browsers write {path!r} as {canon!r}",
            f"write the path as {canon}",
        )
