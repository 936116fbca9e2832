"""Browser policy backend: managed policies for Chromium, Chrome, Edge and Firefox.

The browser layer filters by path (the network layer only sees host names). Files are written
atomically (temp file, fsync, rename), so a browser never reads half a policy; Firefox reads
policies.json at start only.

How a running Chromium (Chrome, Edge) picks up a rewritten file, read from Chromium's source
(components/policy/core/common/{config_dir_policy_loader,async_policy_loader}.cc,
chrome/browser/after_startup_task_utils.cc) and measured in
tests/agent/enforce/test_browser_policy_chromium.py:

- its loader watches the managed folder (inotify: a rename into it is seen like an in-place
  write) and reloads once the newest file modification time has stayed the same for 5 s (the
  settle interval); a full reload also runs every 15 min. Measured: 5.1-5.6 s, for host-wide and
  path-level allows, session to session, and back to closed alike;
- but the loader runs as a BEST_EFFORT task, and Chromium runs none of those until its startup
  is complete: a visible page has loaded and gone idle, or 60 s after it stopped loading without
  going idle, or 3 min after launch at the latest. Until then the policy read at launch stays in
  force (and a tab that keeps navigating keeps postponing it). That is what made changes look
  ignored; the network layer closes hosts at once regardless, so this can delay a session's
  paths opening, never let a closed host through;
- so every write counts: rewriting identical bytes would restart the 5 s settle interval, and a
  plan re-applied every few seconds would keep Chromium on the old policy. Unchanged files are
  therefore left alone.
"""

from __future__ import annotations

import json
import os
import tempfile
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


class BrowserPolicyEnforcer:
    name = "browser-policy"

    def __init__(self, settings: EnforceSettings) -> None:
        self._settings = settings
        self._root = settings.root

    @property
    def paths(self) -> list[Path]:
        return [self._root / rel for _, rel in TARGETS]

    def apply(self, plan: EnforcementPlan) -> None:
        self._check_interlock()
        try:
            contents = {b: _encode(browser_policy(plan.rules, b)) for b, _ in TARGETS}
            run_steps([self._step(self._root / rel, contents[b]) for b, rel in TARGETS])
        except (EnforcementError, ValueError) as exc:
            self._write_deny_all()
            if isinstance(exc, EnforcementError):
                raise
            raise EnforcementError(f"browser policy cannot be exported: {exc}") from exc

    def revert(self) -> None:
        self._check_interlock()
        errors = []
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

    def _step(self, path: Path, data: bytes) -> Step:
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
            return Step(f"keep {path}", lambda: None)  # see the module docstring: no new mtime
        return Step(f"write {path}", lambda: write_atomically(path, data), undo)

    def _write_deny_all(self) -> None:
        for browser, rel in TARGETS:
            deny = _DENY_ALL["firefox" if browser == "firefox" else "chromium"]
            try:
                write_atomically(self._root / rel, _encode(deny))
            except OSError:
                continue  # best effort: the other layers still hold
