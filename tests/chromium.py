"""Debian's Chromium as every browser test launches it.

The flags keep it from phoning home (this machine's network is closed, and tests must not send
traffic anywhere) and let it run as root in a container without a GPU.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
