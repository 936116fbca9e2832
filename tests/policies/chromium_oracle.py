"""Ask the real Chromium which URLs its URLBlocklist/URLAllowlist policies block.

The oracle behind the differential test of `policies.matcher`: for each corpus case it writes a
managed policy `{"URLBlocklist": block, "URLAllowlist": allow}`, starts Debian's headless
Chromium (/usr/bin/chromium, driven by Playwright), navigates to every URL and reads the outcome:
`net::ERR_BLOCKED_BY_ADMINISTRATOR` means blocked; any other outcome (here always a network error
such as ERR_INTERNET_DISCONNECTED, as there is no network) means the policy let it through.

Safety: the browser work runs in a child process under `unshare --mount --net`. The child makes
its mounts private, bind-mounts a staged copy of /etc/chromium carrying the policy, and so never
touches the host's browser policy; its fresh network namespace has only loopback, so Chromium
cannot reach anything. The child refuses to run unless both namespaces differ from the parent's.

Trust: per case, the child reads chrome://policy and fails unless Chromium shows exactly the
lists written (any "Policy parsing error" it reports is recorded), and fails unless the case
produced at least one block and one allow.

Record new vectors after changing the corpus (needs root or unprivileged user namespaces):

    .venv/bin/python -m tests.policies.chromium_oracle --record

which rewrites tests/policies/vectors/chromium_url_decisions.json. Without `--record` it prints
the decisions as JSON to stdout.
"""

from __future__ import annotations

import argparse
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

from tests.policies.url_corpus import CASES, Case

CHROMIUM = "/usr/bin/chromium"
VECTORS = Path(__file__).parent / "vectors" / "chromium_url_decisions.json"
BLOCKED = "net::ERR_BLOCKED_BY_ADMINISTRATOR"
POLICY_DIR = Path("/etc/chromium/policies/managed")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NAV_TIMEOUT_MS = 15_000
_REPO = Path(__file__).resolve().parents[2]
_NET_ERROR = re.compile(r"(net::ERR_[A-Z0-9_]+) at (\S+)")
# chrome://policy renders each policy as a <policy-row> with its own shadow root.
_READ_POLICY_JS = """
() => {
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
}
"""


class OracleError(RuntimeError):
    """Chromium could not be asked, or its answers cannot be trusted."""


def run_cases(cases: list[Case], timeout_s: float = 600) -> dict[str, Any]:
    """Decide every case's URLs in real Chromium; returns {"chromium_version", "cases": [...]}."""
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
        raise OracleError("worker must run in its own mount and network namespaces")
    if _interfaces() != ["lo"]:
        raise OracleError("worker's network namespace has interfaces besides lo")
    cases: list[Case] = json.loads(inp.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="lg-policy-") as stage:
        policy_file = _mount_private_policy_dir(Path(stage))
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            version, results = _run_cases_in_browser(pw, cases, policy_file, Path(stage))
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
    # Written through the staged path: the same file Chromium sees at POLICY_DIR.
    return managed / "lessongate-oracle.json"


def _write_policy(policy_file: Path, scratch: Path, policy: dict[str, list[str]]) -> None:
    # Written aside and renamed in (same file system), so Chromium never reads half a file.
    tmp = scratch / "policy.json.tmp"
    tmp.write_text(json.dumps(policy), encoding="utf-8")
    os.replace(tmp, policy_file)


def _sentinel(index: int) -> tuple[str, str, str]:
    """(host, URL it allows, URL it blocks) that only case `index`'s policy tells apart."""
    host = f"lessongate-oracle-sentinel-{index}.invalid"
    return host, f"https://{host}/", f"https://{host}/lessongate-oracle-sentinel"


def _policy_for(case: Case, index: int) -> dict[str, list[str]]:
    # The sentinel lets us see when Chromium applies this case's lists; no corpus URL is on
    # .invalid, so it cannot change any corpus decision.
    host, _, blocked = _sentinel(index)
    return {
        "URLBlocklist": [*case["block"], blocked.removeprefix("https://")],
        "URLAllowlist": [*case["allow"], host],
    }


def _launch(pw: Any, user_data: Path) -> Any:
    from playwright.sync_api import Error as PlaywrightError

    for attempt in (1, 2):
        try:
            return pw.chromium.launch_persistent_context(
                user_data / f"profile-{attempt}",
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                timeout=60_000,
            )
        except PlaywrightError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _run_cases_in_browser(
    pw: Any, cases: list[Case], policy_file: Path, scratch: Path
) -> tuple[str, list[dict[str, Any]]]:
    """One Chromium for all cases: the policy is swapped and reloaded between cases, and each
    case starts only once chrome://policy shows its lists and its sentinel URLs decide as only
    its lists would."""
    _write_policy(policy_file, scratch, _policy_for(cases[0], 0))
    context = _launch(pw, scratch)
    try:
        version = context.browser.version if context.browser else ""
        policy_page = context.pages[0] if context.pages else context.new_page()
        policy_page.goto("chrome://policy/", timeout=NAV_TIMEOUT_MS)
        page = context.new_page()
        results = []
        for index, case in enumerate(cases):
            policy = _policy_for(case, index)
            if index:
                _write_policy(policy_file, scratch, policy)
                # The WebUI message the page's "Reload policies" button sends; a real click
                # waits on rendering, which Chromium throttles in a background tab.
                policy_page.evaluate("() => chrome.send('reloadPolicies')")
            errors = _wait_policy_shown(policy_page, case["name"], policy)
            _wait_sentinel(page, index)
            decisions: dict[str, str] = {}
            canonical: dict[str, str] = {}
            for url in case["urls"]:
                decisions[url], canonical[url] = _navigate(page, url)
            results.append(
                {
                    "name": case["name"],
                    "allow": case["allow"],
                    "block": case["block"],
                    "policy_errors": errors,
                    "decisions": decisions,
                    "canonical": canonical,
                }
            )
        if not version:
            version = _chromium_version()
        return version, results
    finally:
        context.close()


def _chromium_version() -> str:
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


def _wait_policy_shown(page: Any, name: str, policy: dict[str, list[str]]) -> list[str]:
    """Wait until chrome://policy shows exactly `policy`; returns Chromium's parsing errors."""
    want = json.dumps(policy)
    check = f"""() => {{
      const r = ({_READ_POLICY_JS})(), want = {want};
      const same = (k) => r[k] && r[k].value !== null
        && JSON.stringify(JSON.parse(r[k].value)) === JSON.stringify(want[k]);
      return same("URLBlocklist") && same("URLAllowlist");
    }}"""
    try:
        page.wait_for_function(check, timeout=NAV_TIMEOUT_MS, polling=50)
    except Exception as exc:
        shown = page.evaluate(_READ_POLICY_JS)
        raise OracleError(f"{name}: chrome://policy never showed {want}; it shows {shown}") from exc
    shown = page.evaluate(_READ_POLICY_JS)
    errors: list[str] = []
    for key in ("URLBlocklist", "URLAllowlist"):
        text = (shown[key]["errors"] or "").strip()
        errors += [f"{key}: {line.strip()}" for line in text.splitlines() if line.strip()]
    return errors


def _wait_sentinel(page: Any, index: int, attempts: int = 100) -> None:
    """The lists reach the URL blocklist a little after the policy page shows them: poll."""
    _, allowed, blocked = _sentinel(index)
    for _ in range(attempts):
        if _navigate(page, allowed)[0] == "allow" and _navigate(page, blocked)[0] == "block":
            return
        page.wait_for_timeout(100)
    raise OracleError(f"Chromium never applied the policy of case #{index}")


def _navigate(page: Any, url: str) -> tuple[str, str]:
    """Returns ("allow"|"block", the URL as Chromium canonicalised it)."""
    from playwright.sync_api import Error as PlaywrightError

    last = ""
    for _attempt in (1, 2):
        try:
            page.goto(url, timeout=NAV_TIMEOUT_MS, wait_until="commit")
        except PlaywrightError as exc:
            last = str(exc).splitlines()[0]
            if "Cannot navigate to invalid URL" in last:
                return "invalid", ""
            found = _NET_ERROR.search(last)
            if found:
                # Let the error page commit so it cannot interrupt the next navigation.
                page.wait_for_url("chrome-error://**", wait_until="commit", timeout=NAV_TIMEOUT_MS)
                return ("block" if found.group(1) == BLOCKED else "allow"), found.group(2)
            continue  # timeout or an interrupted navigation: try once more
        return "allow", page.url  # something answered, so it was not blocked
    raise OracleError(f"cannot classify navigation to {url!r}: {last}")


def _verify_case_is_informative(result: dict[str, Any]) -> None:
    invalid = [url for url, d in result["decisions"].items() if d == "invalid"]
    if invalid:
        raise OracleError(f"case {result['name']!r}: Chromium will not navigate to {invalid}")
    seen = set(result["decisions"].values())
    if seen != {"allow", "block"}:
        raise OracleError(
            f"case {result['name']!r} got only {sorted(seen)}: the policy may not have applied"
        )


def record(path: Path = VECTORS) -> dict[str, Any]:
    run = run_cases(CASES)
    problems = []
    for result in run["cases"]:
        try:
            _verify_case_is_informative(result)
        except OracleError as exc:
            problems.append(str(exc))
    if problems:
        raise OracleError("\n".join(problems))
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
    parser.add_argument("--record", action="store_true", help=f"rewrite {VECTORS.name}")
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
