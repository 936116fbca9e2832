"""A throwaway Debian root for package tests, never the machine running them.

`debian_root()` debootstraps Debian bookworm (minbase + nftables) once into `.cache/` and reuses
it. `run_in_root()` runs a shell script inside a copy-on-write view of it: an overlay whose upper
layer is a temp folder, mounted in a private mount namespace, with its own network namespace
(only `lo`), its own PID namespace (everything started inside dies with it) and `chroot`. The
cached root itself is never written, and nothing is mounted or installed on the host.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LESSONGATE_CACHE", REPO / ".cache"))
SUITE = "bookworm"
INCLUDE = ("nftables",)
_RECIPE = f"{SUITE} minbase include={','.join(INCLUDE)} v1"
DEBOOTSTRAP_TIMEOUT = 900

# Runs as init of the new PID namespace, before chroot: the host's tools are still visible.
_ENTER = r"""
set -eu
lower=$1 upper=$2 work=$3 merged=$4 script=$5
ip link set lo up
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
mount -t proc proc "$merged/proc"
mount -t tmpfs -o mode=0755 tmpfs "$merged/run"
mount -t tmpfs -o mode=1777 tmpfs "$merged/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$merged/dev"
for node in null zero full random urandom tty; do
  : >"$merged/dev/$node"
  mount --bind "/dev/$node" "$merged/dev/$node"
done
ln -s /proc/self/fd "$merged/dev/fd"
mkdir -p "$merged/dev/pts" "$merged/dev/shm"
cp "$script" "$merged/tmp/script.sh"
exec chroot "$merged" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive /bin/sh /tmp/script.sh
"""


def debian_mirror() -> str | None:
    """The Debian archive this machine's apt uses, so the root comes from the same place."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for uri in re.findall(r"(?m)^\s*(?:URIs:|deb)\s+(\S+/debian)/?(?:\s|$)", text):
            return str(uri)
    return None


def debian_root() -> Path:
    """The cached bookworm root, debootstrapped on first use (a few minutes, once)."""
    key = hashlib.sha256(_RECIPE.encode()).hexdigest()[:12]
    root = CACHE / f"debian-{SUITE}-{key}"
    if (root / ".complete").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"debian-{SUITE}-", dir=CACHE))
    mirror = debian_mirror()
    # debootstrap mounts /proc and /sys inside the target while it works: keep those mounts in a
    # private mount namespace so the host's mount table never sees them.
    cmd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(INCLUDE)}",
        SUITE,
        str(partial),
        *([mirror] if mirror else []),
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"debootstrap failed:\n{e.stdout[-3000:]}\n{e.stderr[-3000:]}") from e
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / ".complete").write_text(_RECIPE + "\n", encoding="utf-8")
    try:
        partial.rename(root)
    except OSError:  # another run finished first; keep theirs
        shutil.rmtree(partial, ignore_errors=True)
    return root


def run_in_root(
    root: Path,
    script: str,
    scratch: Path,
    files: dict[str, Path] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """Runs `script` (POSIX sh) as root inside a throwaway overlay of `root`, in fresh mount,
    network and PID namespaces; everything it started is killed when it ends. `files` maps
    absolute paths inside the root to host files copied there first. The overlay's upper layer
    (everything the script changed) stays in `scratch/upper` for the caller to inspect."""
    for name in ("upper", "work", "merged"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    for inside, source in (files or {}).items():
        target = scratch / "upper" / inside.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    script_file = scratch / "script.sh"
    script_file.write_text(script, encoding="utf-8")
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "/bin/sh",
            "-c",
            _ENTER,
            "enter",
            str(root),
            str(scratch / "upper"),
            str(scratch / "work"),
            str(scratch / "merged"),
            str(script_file),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
