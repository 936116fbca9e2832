"""Find the page inside a Google Translate, AMP or web-cache URL.

A deliberate extension to Chromium's blocklist semantics (which judge the wrapper's own URL):
LessonGate judges such a URL by the page it wraps, so a proxy service cannot carry a student to a
page the lesson does not include. The shapes follow Chromium's own `GetEmbeddedURL`
(components/url_matcher/url_util.cc), which its SafeSites filter uses.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

import ada_url

_AMP_CACHE_PATH = re.compile(r"/[a-z]/(s/)?(.*)")
_AMP_VIEWER_PATH = re.compile(r"/amp/(s/)?(.*)")
_WEB_CACHE_QUERY = re.compile(r"cache:(.{12}:)?(https?://)?([^ :]*)( [^:]*)?")
# google.TLD and google.co.TLD / google.com.TLD, as google_util::IsGoogleDomainUrl accepts.
_GOOGLE_HOST = re.compile(r"(www\.)?google\.((com?\.)?[a-z]{2,3}|com)")


def _query_value(search: str, key: str) -> str | None:
    values = parse_qs(search.lstrip("?"), keep_blank_values=True).get(key)
    return values[0] if values else None


def _build(https: bool, host_and_path: str) -> str:
    return ("https://" if https else "http://") + host_and_path


def might_wrap(host: str) -> bool:
    """Cheap test on a canonical host: could a URL on it be a wrapper at all?"""
    return "google" in host or host.endswith("ampproject.org")


def embedded_url(url: str) -> str | None:
    """The URL wrapped inside `url`, or None when `url` is not a known wrapper."""
    try:
        u = ada_url.URL(url)
    except ValueError:
        return None
    host, path, search = u.hostname.rstrip("."), u.pathname, u.search
    default_port = u.port == ""

    if host == "cdn.ampproject.org" or host.endswith(".cdn.ampproject.org"):
        m = _AMP_CACHE_PATH.fullmatch(path)
        if m:
            return _build(bool(m.group(1)), m.group(2) + search)

    if default_port and _GOOGLE_HOST.fullmatch(host):
        m = _AMP_VIEWER_PATH.fullmatch(path)
        if m:
            return _build(bool(m.group(1)), unquote(m.group(2)))

    if host == "webcache.googleusercontent.com" and path.startswith("/search"):
        q = _query_value(search, "q")
        m = _WEB_CACHE_QUERY.fullmatch(q) if q else None
        if m:
            return _build(m.group(2) == "https://", m.group(3))

    is_translate = (
        host.startswith("translate.")
        and default_port
        and _GOOGLE_HOST.fullmatch(host.removeprefix("translate."))
        and not host.startswith("translate.www.")
    )
    if is_translate or host == "translate.googleusercontent.com":
        inner = _query_value(search, "u")
        if inner:
            return inner if "://" in inner else "http://" + inner
    return None
