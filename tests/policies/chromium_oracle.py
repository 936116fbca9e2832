"""Ask the real Chromium which URLs its URLBlocklist/URLAllowlist policies block.

The oracle behind the differential test of `policies.matcher`. For each corpus case it writes a
managed policy `{"URLBlocklist": block, "URLAllowlist": allow}`, has Debian's headless Chromium
(/usr/bin/chromium, driven by Playwright) load it, navigates to every URL and reads the outcome:
`net::ERR_BLOCKED_BY_ADMINISTRATOR` means blocked; any other outcome (here a network error such as
ERR_INTERNET_DISCONNECTED, as there is no network) means the policy let it through. A URL that
Chromium refuses to navigate to at all ("invalid URL") is an error: it has no decision to record.

Safety: the browser work runs in a child process under `unshare --mount --net`. The child makes
its mounts private and bind-mounts a staged copy of /etc/chromium carrying the policy, so the
host's browser policy is never touched; its fresh network namespace has only loopback, so
Chromium cannot reach anything. The child refuses to run unless both namespaces are its own.

Trust, without timing: one Chromium serves all cases; between cases the policy file is replaced
(atomically) and reloaded as chrome://policy's "Reload policies" does. A case starts only once
(1) chrome://policy shows exactly its lists (any "Policy parsing error" is recorded with the
case) and (2) two sentinel URLs on `lessongate-oracle-sentinel-<n>.invalid`, named only by this
case's extra allow and block entries, are allowed and blocked respectively; no corpus URL is on
.invalid, so the sentinels cannot change a corpus decision. Recording also fails unless every
case got at least one block and one allow.

Record new vectors after changing the corpus (needs root or unprivileged user namespaces):

    .venv/bin/python -m tests.policies.chromium_oracle --record

which rewrites tests/policies/vectors/chromium_url_decisions.json: per case its lists, Chromium's
`policy_errors`, `decisions` ({url: "allow"|"block"}) and `canonical` (the URL as Chromium
navigated to it). Without `--record` it prints the same as JSON to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.policies.url_corpus import CASES, Case

VECTORS = Path(__file__).parent / "vectors" / "chromium_url_decisions.json"
BLOCKED = "net::ERR_BLOCKED_BY_ADMINISTRATOR"
POLICY_DIR = Path("/etc/chromium/policies/managed")
TIMEOUT_MS = 15_000
LANES = 3  # tabs navigating at once; each navigation mostly waits on Chromium's own processes
_REPO = Path(__file__).resolve().parents[2]
_NET_ERROR = re.compile(r"(net::ERR_[A-Z0-9_]+) at (\S+)")
# chrome://policy renders each policy as a <policy-row> with its own shadow root.
_READ_POLICY_JS = """() => {
  const out = {};
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'POLICY-ROW' && el.shadowRoot) {
        const s = el.shadowRoot, name = s.querySelector('#name');
        const text = (sel) => { const n = s.querySelector(sel); return n ? n.textContent : null; };
        if (name) out[name.textContent.trim()] = {
          value: text('.value.row .value'), errors: text('.errors.row .value')};
      }
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  return out;
}"""


class OracleError(RuntimeError):
    """Chromium could not be asked, or its answers cannot be trusted."""


def run_cases(cases: list[Case], timeout_s: float = 600) -> dict[str, Any]:
    """Decide every case's URLs in real Chromium: {"chromium_version", "cases": [...]}."""
    with tempfile.TemporaryDirectory(prefix="lg-oracle-") as tmp:
        inp, out = Path(tmp, "cases.json"), Path(tmp, "result.json")
        inp.write_text(json.dumps(cases), encoding="utf-8")
        ns = ["--mount", "--net"] + (["--map-root-user"] if os.geteuid() != 0 else [])
        cmd = ["unshare", *ns, "--", sys.executable, "-m", "tests.policies.chromium_oracle"]
        cmd += ["--worker", str(inp), str(out), _ns_id("mnt"), _ns_id("net")]
        try:
            proc = subprocess.run(
                cmd, cwd=_REPO, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise OracleError(f"Chromium oracle took over {timeout_s:.0f}s") from exc
        if proc.returncode != 0 or not out.exists():
            raise OracleError(f"Chromium oracle failed (exit {proc.returncode}):\n{proc.stderr}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def _ns_id(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


def _interfaces() -> list[str]:
    # /proc/self/net follows the network namespace (/sys/class/net would need a remount).
    lines = Path("/proc/self/net/dev").read_text(encoding="utf-8").splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def _worker(inp: Path, out: Path, parent_mnt: str, parent_net: str) -> None:
    if _ns_id("mnt") == parent_mnt or _ns_id("net") == parent_net:
        raise OracleError("the worker must run in its own mount and network namespaces")
    if _interfaces() != ["lo"]:
        raise OracleError("the worker's network namespace has interfaces besides lo")
    cases: list[Case] = json.loads(inp.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="lg-policy-") as stage:
        policy_file = _mount_private_policy_dir(Path(stage))
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        version, results = asyncio.run(_run_in_browser(cases, policy_file, Path(stage)))
    out.write_text(json.dumps({"chromium_version": version, "cases": results}), "utf-8")


def _mount_private_policy_dir(stage: Path) -> Path:
    """Bind a staged dir over the deepest existing part of POLICY_DIR; returns the policy file.

    Debian ships /etc/chromium but not its policies/ folder, and a bind mount needs an existing
    mount point: so the existing ancestor is copied into the stage, completed, and mounted over.
    """
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    target = POLICY_DIR
    while not target.exists():
        target = target.parent
    if not str(target).startswith("/etc/chromium"):
        raise OracleError("/etc/chromium is missing: is the Debian chromium package installed?")
    staged = stage / "root"
    shutil.copytree(target, staged, symlinks=True)
    for entry in staged.rglob("*"):
        if entry.is_file() and POLICY_DIR in (target / entry.relative_to(staged)).parents:
            entry.unlink()  # the host's own managed policy must not mix into the oracle's
    managed = staged / POLICY_DIR.relative_to(target)
    managed.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(staged), str(target)], check=True)
    if any(POLICY_DIR.iterdir()):
        raise OracleError(f"{POLICY_DIR} is not empty after the bind mount")
    # Written through the staged path: the same file Chromium sees under POLICY_DIR.
    return managed / "lessongate-oracle.json"


def _write_policy(policy_file: Path, scratch: Path, policy: dict[str, list[str]]) -> None:
    # Written aside and renamed in (same file system), so Chromium never reads half a file.
    tmp = scratch / "policy.json.tmp"
    tmp.write_text(json.dumps(policy), encoding="utf-8")
    os.replace(tmp, policy_file)


def _sentinel(index: int) -> tuple[str, str, str]:
    """(host, URL only case `index` allows, URL only case `index` blocks)."""
    host = f"lessongate-oracle-sentinel-{index}.invalid"
    return host, f"https://{host}/", f"https://{host}/lessongate-oracle-sentinel"


def _policy_for(case: Case, index: int) -> dict[str, list[str]]:
    host, _, blocked = _sentinel(index)
    return {
        "URLBlocklist": [*case["block"], blocked.removeprefix("https://")],
        "URLAllowlist": [*case["allow"], host],
    }


async def _run_in_browser(
    cases: list[Case], policy_file: Path, scratch: Path
) -> tuple[str, list[dict[str, Any]]]:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    _write_policy(policy_file, scratch, _policy_for(cases[0], 0))
    async with async_playwright() as pw:
        for attempt in (1, 2):  # a first launch on a cold machine occasionally times out
            try:
                context = await pw.chromium.launch_persistent_context(
                    scratch / f"profile-{attempt}",
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    headless=True,
                    timeout=60_000,
                )
                break
            except PlaywrightError:
                if attempt == 2:
                    raise
        try:
            version = context.browser.version if context.browser else _chromium_version()
            policy_page = context.pages[0] if context.pages else await context.new_page()
            await policy_page.goto("chrome://policy/", timeout=TIMEOUT_MS)
            lanes = [await context.new_page() for _ in range(LANES)]
            results = []
            for index, case in enumerate(cases):
                policy = _policy_for(case, index)
                if index:
                    _write_policy(policy_file, scratch, policy)
                    # What the page's "Reload policies" button sends; clicking it would wait on
                    # rendering, which Chromium throttles in a background tab.
                    await policy_page.evaluate("() => chrome.send('reloadPolicies')")
                errors = await _wait_policy_shown(policy_page, case["name"], policy)
                await _wait_sentinel(lanes[0], index)
                results.append(await _decide_all(lanes, case, errors))
            return version, results
        finally:
            await context.close()


def _chromium_version() -> str:
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


async def _wait_policy_shown(page: Any, name: str, policy: dict[str, list[str]]) -> list[str]:
    """Wait until chrome://policy shows exactly `policy`; returns Chromium's parsing errors."""
    want = json.dumps(policy)
    check = f"""() => {{
      const r = ({_READ_POLICY_JS})(), want = {want};
      const same = (k) => r[k] && r[k].value !== null
        && JSON.stringify(JSON.parse(r[k].value)) === JSON.stringify(want[k]);
      return same("URLBlocklist") && same("URLAllowlist");
    }}"""
    try:
        await page.wait_for_function(check, timeout=2 * TIMEOUT_MS, polling=50)
    except Exception as exc:
        rows = await page.evaluate(_READ_POLICY_JS)
        shown = {key: rows.get(key) for key in ("URLBlocklist", "URLAllowlist")}
        raise OracleError(f"{name}: chrome://policy never showed {want}; it shows {shown}") from exc
    shown = await page.evaluate(_READ_POLICY_JS)
    errors: list[str] = []
    for key in ("URLBlocklist", "URLAllowlist"):
        text = (shown[key]["errors"] or "").strip()
        errors += [f"{key}: {line.strip()}" for line in text.splitlines() if line.strip()]
    return errors


async def _wait_sentinel(page: Any, index: int, attempts: int = 150) -> None:
    """The lists reach the URL blocklist shortly after chrome://policy shows them: poll."""
    _, allowed, blocked = _sentinel(index)
    for _ in range(attempts):
        allowed_ok = (await _navigate(page, allowed))[0] == "allow"
        if allowed_ok and (await _navigate(page, blocked))[0] == "block":
            return
        await page.wait_for_timeout(100)
    raise OracleError(f"Chromium never applied the policy of case #{index}")


async def _decide_all(lanes: list[Any], case: Case, errors: list[str]) -> dict[str, Any]:
    todo = list(reversed(case["urls"]))
    outcome: dict[str, tuple[str, str]] = {}

    async def lane(page: Any) -> None:
        while todo:
            url = todo.pop()
            outcome[url] = await _navigate(page, url)

    await asyncio.gather(*(lane(page) for page in lanes))
    return {
        "name": case["name"],
        "allow": case["allow"],
        "block": case["block"],
        "policy_errors": errors,
        "decisions": {url: outcome[url][0] for url in case["urls"]},
        "canonical": {url: outcome[url][1] for url in case["urls"]},
    }


async def _navigate(page: Any, url: str) -> tuple[str, str]:
    """("allow"|"block"|"invalid", the URL as Chromium canonicalised it)."""
    from playwright.async_api import Error as PlaywrightError

    last = ""
    for _attempt in (1, 2):
        try:
            await page.goto(url, timeout=TIMEOUT_MS, wait_until="commit")
        except PlaywrightError as exc:
            last = str(exc).splitlines()[0]
            if "Cannot navigate to invalid URL" in last:
                return "invalid", ""
            found = _NET_ERROR.search(last)
            if found:
                # Let the error page commit so it cannot interrupt this tab's next navigation.
                await page.wait_for_url(
                    "chrome-error://**", wait_until="commit", timeout=TIMEOUT_MS
                )
                return ("block" if found.group(1) == BLOCKED else "allow"), found.group(2)
            continue  # a timeout or an interrupted navigation: try once more
        return "allow", page.url  # something answered, so it was not blocked
    raise OracleError(f"cannot classify the navigation to {url!r}: {last}")


def check_informative(results: list[dict[str, Any]]) -> None:
    """Every case must have decisions for all URLs, and both answers among them."""
    problems = []
    for result in results:
        invalid = [url for url, d in result["decisions"].items() if d == "invalid"]
        seen = set(result["decisions"].values())
        if invalid:
            problems.append(f"{result['name']}: Chromium will not navigate to {invalid}")
        elif seen != {"allow", "block"}:
            problems.append(f"{result['name']}: only {sorted(seen)}; did the policy apply?")
    if problems:
        raise OracleError("\n".join(problems))


def record(path: Path = VECTORS) -> dict[str, Any]:
    run = run_cases(CASES)
    check_informative(run["cases"])
    doc = {
        "chromium_version": run["chromium_version"],
        "recorded": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "cases": run["cases"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.policies.chromium_oracle")
    parser.add_argument("--record", action="store_true", help=f"rewrite {VECTORS}")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        inp, out, mnt, net = args.worker
        _worker(Path(inp), Path(out), mnt, net)
        return 0
    if args.record:
        doc = record()
        n = sum(len(c["decisions"]) for c in doc["cases"])
        print(f"recorded {len(doc['cases'])} cases, {n} URLs, Chromium {doc['chromium_version']}")
        return 0
    print(json.dumps(run_cases(CASES), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
