"""The installer tests' builds, cached under `.cache/` by a hash of everything that goes into them.

A clean clone (CI) builds once (the PyInstaller service bundle takes a couple of minutes on two
cores); later runs of an unchanged tree reuse it. The panel bundle (Qt WebEngine, ~600 MB, several
minutes) is left to `make build`: the tests build the service bundle alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from tests.installer.throwaway_root import CACHE, REPO

BUILD_TIMEOUT = 1200
_INPUTS = ("agent", "policies", "installer", "setup.cfg", "pyproject.toml")


def source_hash(*extra: str) -> str:
    """Hash of the sources, the build recipe and the toolchain versions."""
    h = hashlib.sha256()
    for top in _INPUTS:
        path = REPO / top
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(sys.version.encode())
    h.update(metadata.version("pyinstaller").encode())
    for item in extra:
        h.update(item.encode())
    return h.hexdigest()[:16]


@contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _prune(prefix: str, keep: Path) -> None:
    """Old builds of earlier trees go, so the cache holds one of each kind."""
    mine = CACHE / f"{prefix}-unkeyed-{os.getpid()}"
    for old in CACHE.glob(f"{prefix}-*"):
        if old not in (keep, mine) and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def agent_bundle() -> Path:
    """dist folder holding `lessongate-agent/lessongate-agent`, built from the current tree."""
    key = source_hash("service bundle")
    dist = CACHE / f"pyinstaller-{key}"
    with _locked("pyinstaller"):
        if (dist / "lessongate-agent" / "lessongate-agent").exists():
            return dist
        _prune("pyinstaller", dist)
        partial = Path(tempfile.mkdtemp(prefix="pyinstaller-partial-", dir=CACHE))
        try:
            env = {**os.environ, "LESSONGATE_BUILD_PANEL": "0", "PYTHON": sys.executable}
            subprocess.run(
                [
                    str(REPO / "installer" / "build.sh"),
                    str(partial / "dist"),
                    str(partial / "work"),
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
            )
            if source_hash("service bundle") != key:
                # The tree changed while building (a shared working tree): use this build once,
                # but do not file it under a key it may not match.
                dist = CACHE / f"pyinstaller-unkeyed-{os.getpid()}"
                shutil.rmtree(dist, ignore_errors=True)
            (partial / "dist").rename(dist)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return dist


def deb_package(dist: Path, out_dir: Path) -> Path:
    """The .deb of the service bundle in `dist`, assembled into `out_dir`."""
    done = subprocess.run(
        [str(REPO / "installer" / "debian" / "build-deb.sh"), str(dist), str(out_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Path(done.stdout.strip().splitlines()[-1])
