"""Network namespaces for enforcement tests: made here, always removed, never the host's."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

_counter = itertools.count()


def sh(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def netns(prefix: str = "lgt") -> Iterator[str]:
    name = f"{prefix}{os.getpid()}-{next(_counter)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def in_ns(name: str, *argv: str) -> tuple[str, ...]:
    return ("ip", "netns", "exec", name, *argv)
