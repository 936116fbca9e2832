"""Browser policy backend: managed policies for Chromium, Chrome, Edge and Firefox.

The browser layer filters by path (the network layer only sees host names). Files are written
atomically (temp file, fsync, rename), so a browser never reads half a policy; Firefox reads
policies.json at start only.

How a running Chromium (Chrome, Edge) picks up a rewritten file, read from Chromium's source
(components/policy/core/common/{config_dir_policy_loader,async_policy_loader}.cc) and measured in
tests/agent/enforce/test_browser_policy_chromium.py:

- its loader watches the managed folder (inotify: a rename into it is seen like an in-place
  write) and reloads once the newest file modification time has stayed the same for 5 s (the
  settle interval); a full reload also runs every 15 min. Measured: 5.1-5.6 s, for host-wide and
  path-level allows, session to session, and back to closed alike;
- but Chromium reads the folder once at launch and installs that watch only later, as a
  BEST_EFFORT task run after its startup (seconds with a window on screen; up to 3 min). A change
  that lands in between is seen when the watch is installed, yet the 5 s settle reload it then
  schedules is replaced by the 15 min one (AsyncPolicyLoader::Init): a student who opened the
  browser just before the teacher started the lesson would wait up to 15 minutes for its paths.
  So after each change the same bytes are written again a few times (REWRITE_AFTER): each new
  rename wakes a watch installed since, and costs a loader that already has it one idle reload;
- every write restarts the 5 s settle interval, so a plan re-applied every few seconds would keep
  Chromium on the old policy: unchanged plans leave the files alone.

The network layer closes hosts at once regardless, so all of this can delay a session's paths
opening, never let a closed host through.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.enforce.base import EnforcementError, Health
from agent.enforce.settings import EnforceSettings
from agent.enforce.steps import Step, run_steps
from agent.plan import EnforcementPlan
from policies.export import Browser, browser_policy

# (browser, path under the root). Debian ships Firefox ESR under its own folder.
TARGETS: tuple[tuple[Browser, str], ...] = (
    ("chromium", "etc/chromium/policies/managed/lessongate.json"),
    ("chrome", "etc/opt/chrome/policies/managed/lessongate.json"),
    ("edge", "etc/opt/edge/policies/managed/lessongate.json"),
    ("firefox", "usr/lib/firefox/distribution/policies.json"),
    ("firefox", "usr/lib/firefox-esr/distribution/policies.json"),
    ("firefox", "etc/firefox/policies/policies.json"),
)

# Seconds after a change at which Chromium-family files are written again, unchanged (see above):
# the last is past Chromium's 3 min startup failsafe.
REWRITE_AFTER = (10.0, 30.0, 60.0, 190.0)

# What a browser gets when the real policy cannot be written: nothing but the block.
_DENY_ALL: dict[str, dict[str, Any]] = {
    "chromium": {"URLBlocklist": ["*"], "URLAllowlist": []},
    "firefox": {"policies": {"WebsiteFilter": {"Block": ["<all_urls>"], "Exceptions": []}}},
}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    fd, tmp = tempfile.mkstemp(prefix=".lessongate-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _encode(policy: dict[str, Any]) -> bytes:
    return (json.dumps(policy, indent=2, sort_keys=True) + "\n").encode()


class Rewriter:
    """Writes files again, byte for byte, at fixed delays after the last `schedule`.

    Whoever writes those files holds `lock`, so a rewrite never puts back bytes read just
    before a newer write."""

    def __init__(self, delays: Sequence[float]) -> None:
        self._delays = tuple(delays)
        self.lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._generation = 0

    def schedule(self, paths: Sequence[Path]) -> None:
        with self.lock:
            self._generation += 1
            self._arm(self._generation, list(paths), 0)

    def cancel(self) -> None:
        with self.lock:
            self._generation += 1
            self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, generation: int, paths: list[Path], index: int) -> None:
        self._stop_timer()
        if index == len(self._delays):
            return
        wait = self._delays[index] - (self._delays[index - 1] if index else 0.0)
        self._timer = threading.Timer(wait, self._fire, (generation, paths, index))
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, generation: int, paths: list[Path], index: int) -> None:
        with self.lock:
            if generation != self._generation:
                return  # a newer change or a revert came first
            for path in paths:
                try:
                    write_atomically(path, path.read_bytes())
                except OSError:
                    continue  # removed or unwritable: the next apply reports it
            self._arm(generation, paths, index + 1)


class BrowserPolicyEnforcer:
    name = "browser-policy"

    def __init__(
        self, settings: EnforceSettings, rewrite_after: Sequence[float] = REWRITE_AFTER
    ) -> None:
        self._settings = settings
        self._root = settings.root
        self._rewriter = Rewriter(rewrite_after)

    @property
    def paths(self) -> list[Path]:
        return [self._root / rel for _, rel in TARGETS]

    def _chromium_paths(self) -> list[Path]:
        return [self._root / rel for browser, rel in TARGETS if browser != "firefox"]

    def apply(self, plan: EnforcementPlan) -> None:
        self._check_interlock()
        with self._rewriter.lock:
            self._apply(plan)

    def _apply(self, plan: EnforcementPlan) -> None:
        try:
            contents = {b: _encode(browser_policy(plan.rules, b)) for b, _ in TARGETS}
            steps = [self._step(self._root / rel, contents[b]) for b, rel in TARGETS]
            run_steps(step for step in steps if step is not None)
        except (EnforcementError, ValueError) as exc:
            self._write_deny_all()
            if isinstance(exc, EnforcementError):
                raise
            raise EnforcementError(f"browser policy cannot be exported: {exc}") from exc
        if any(steps):
            self._rewriter.schedule(self._chromium_paths())

    def revert(self) -> None:
        self._check_interlock()
        errors = []
        with self._rewriter.lock:
            self._rewriter.cancel()
            for path in self.paths:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    errors.append(f"{path}: {exc}")
        if errors:
            raise EnforcementError("cannot remove browser policies: " + "; ".join(errors))

    def health(self) -> Health:
        broken = []
        for path in self.paths:
            try:
                json.loads(path.read_bytes())
            except (OSError, ValueError):
                broken.append(str(path))
        if broken:
            return Health(self.name, False, "missing or unreadable: " + ", ".join(broken))
        return Health(self.name, True, f"{len(self.paths)} policy files in place")

    def _check_interlock(self) -> None:
        if self._root == Path("/") and not self._settings.enforce:
            raise EnforcementError("browser policies refused: enforce is not set in the config")

    def _step(self, path: Path, data: bytes) -> Step | None:
        """Writing `data` to `path` as an undoable step; None when the file holds it already
        (no new modification time, see the module docstring)."""
        try:
            before: bytes | None = path.read_bytes()
        except OSError:
            before = None

        def undo() -> None:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, before)

        if before == data:
            return None
        return Step(f"write {path}", lambda: write_atomically(path, data), undo)

    def _write_deny_all(self) -> None:
        for browser, rel in TARGETS:
            deny = _DENY_ALL["firefox" if browser == "firefox" else "chromium"]
            try:
                write_atomically(self._root / rel, _encode(deny))
            except OSError:
                continue  # best effort: the other layers still hold
        self._rewriter.schedule(self._chromium_paths())
