"""The three HTML documents the UI serves: the app shell, the blocked page and the 403 page.

The app shell is static HTML with three placeholders filled here (language, strings, API key),
so the page needs no build step and loads nothing from anywhere but this loopback server.
"""

from __future__ import annotations

import json
import re
from functools import cache
from html import escape
from importlib import resources

from agent.ui import i18n

# One DNS label; the blocked page echoes only names made of these (plus a port), so it can never
# be used to show a child arbitrary text.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def _shell_template() -> str:
    return resources.files("agent.ui").joinpath("static/index.html").read_text(encoding="utf-8")


def _script_json(value: object) -> str:
    # Inside <script type="application/json"> only "</" could end the element early.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def app_shell(language: str, api_key: str) -> str:
    strings = dict(i18n.catalogue(language))
    return (
        _shell_template()
        .replace("__LANG__", escape(language))
        .replace("__TITLE__", escape(strings["app_title"]))
        .replace("__KEY__", escape(api_key))
        .replace("__STRINGS__", _script_json(strings))
    )


def _document(language: str, title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/static/app.css">\n</head>\n'
        f'<body class="page-plain">\n<main class="plain" id="main">\n{body}\n</main>\n</body>\n'
        "</html>\n"
    )


def shown_host(host: str | None) -> str | None:
    if not host or len(host) > 260:
        return None
    name, port = host.strip().lower(), ""
    if ":" in name:
        name, _, port = name.rpartition(":")
        if not (port.isdigit() and len(port) <= 5):
            return None
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return f"{name}:{port}" if port else name


def blocked_page(language: str, host: str | None) -> str:
    t = i18n.catalogue(language)
    name = shown_host(host)
    other = "es" if language == "en" else "en"
    what = (
        f'<p class="blocked-host" id="blocked-host">{escape(name)}</p>'
        if name
        else f'<p class="blocked-host" id="blocked-host">{escape(t["blocked_unknown_host"])}</p>'
    )
    query = f"?host={escape(name)}&amp;lang={other}" if name else f"?lang={other}"
    body = (
        '<svg class="big-icon" aria-hidden="true" viewBox="0 0 64 64" width="96" height="96">'
        '<polygon points="20,2 44,2 62,20 62,44 44,62 20,62 2,44 2,20" fill="#b3261e"/>'
        '<rect x="14" y="28" width="36" height="8" fill="#fff"/></svg>\n'
        f"<h1>{escape(t['blocked_title'])}</h1>\n"
        f"<p>{escape(t['blocked_what'])}</p>\n{what}\n"
        f'<p class="blocked-why">{escape(t["blocked_why"])}</p>\n'
        f'<p class="blocked-ask"><strong>{escape(t["blocked_ask"])}</strong></p>\n'
        f'<p><a class="lang-link" href="/blocked{query}" lang="{other}">'
        f"{escape(t['other_language'])}</a></p>"
    )
    return _document(language, t["blocked_title"], body)


def forbidden_page(language: str) -> str:
    t = i18n.catalogue(language)
    body = f"<h1>{escape(t['forbidden_title'])}</h1>\n<p>{escape(t['forbidden_body'])}</p>"
    return _document(language, t["forbidden_title"], body)
