"""nftables backend: one table, `inet lessongate`, replaced atomically with `nft -f`.

For every user except root and the agent:
- TCP 80/443 is redirected to the filtering proxy (which decides by host name);
- everything else leaving the machine is rejected (QUIC, other ports, DNS-over-TLS, raw IPs),
  except loopback, the LessonGate server, DNS to the configured resolvers, and exemptions.

The table is the same whether a session is open or not (the proxy's rules differ), and it stays
when the agent dies: a dead proxy means redirected connections are refused, never open Internet.
Only `revert()` (disable --code, uninstall) deletes it.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterable, Sequence

from agent.enforce.base import EnforcementError, Health
from agent.enforce.settings import EnforceSettings
from agent.enforce.steps import Step, run_steps
from agent.plan import EnforcementPlan

TABLE = "lessongate"
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(values: Iterable[str], field: str) -> list[_Network]:
    nets = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise EnforcementError(f"settings.{field}: {value!r} is not an address") from exc
    return nets


def _by_family(nets: Sequence[_Network], verdict: str, match: str = "") -> list[str]:
    lines = []
    for family, version in (("ip", 4), ("ip6", 6)):
        chosen = [str(n) for n in nets if n.version == version]
        if chosen:
            lines.append(f"{family} daddr {{ {', '.join(chosen)} }} {match}{verdict}")
    return lines


def _exempt_uids(settings: EnforceSettings) -> str:
    return ", ".join(str(uid) for uid in sorted({0, settings.agent_uid}))


def ruleset(settings: EnforceSettings) -> str:
    """The complete table, as one `nft -f` transaction that replaces any previous version."""
    direct = _networks(settings.server_addresses, "server_addresses") + _networks(
        settings.exemptions, "exemptions"
    )
    dns = _networks(settings.effective_resolvers(), "resolvers")
    uids = _exempt_uids(settings)
    port = settings.proxy_port
    redirect = [
        'oifname "lo" return',
        f"meta skuid {{ {uids} }} return",
        *_by_family(direct, "return"),
        f"tcp dport {{ 80, 443 }} redirect to :{port}",
    ]
    egress = [
        'oifname "lo" accept',
        f"meta skuid {{ {uids} }} accept",
        f"ct status dnat tcp dport {port} accept",
        *_by_family(direct, "accept"),
        *_by_family(dns, "accept", "udp dport 53 "),
        *_by_family(dns, "accept", "tcp dport 53 "),
        "meta l4proto tcp counter reject with tcp reset",
        "counter reject with icmpx type admin-prohibited",
    ]
    return _table(
        {
            "to_proxy": ("type nat hook output priority -100; policy accept;", redirect),
            "student_out": ("type filter hook output priority 0; policy accept;", egress),
        }
    )


def fallback_ruleset(settings: EnforceSettings) -> str:
    """The least that keeps the device closed, for when the full ruleset cannot be loaded."""
    uids = _exempt_uids(settings)
    egress = ['oifname "lo" accept', f"meta skuid {{ {uids} }} accept", "counter drop"]
    return _table({"student_out": ("type filter hook output priority 0; policy accept;", egress)})


def _table(chains: dict[str, tuple[str, list[str]]]) -> str:
    # "table" first creates it if missing, so "delete" never fails; all of it is one transaction.
    out = [f"table inet {TABLE}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    for name, (hook, rules) in chains.items():
        out += [f"  chain {name} {{", f"    {hook}", *(f"    {r}" for r in rules), "  }"]
    return "\n".join([*out, "}", ""])


class NftablesEnforcer:
    name = "nftables"

    def __init__(self, settings: EnforceSettings, nft_argv: Sequence[str] = ("nft",)) -> None:
        # nft_argv lets tests run nft inside a network namespace they created.
        self._settings = settings
        self._nft_argv = tuple(nft_argv)

    def apply(self, plan: EnforcementPlan) -> None:
        try:
            run_steps([Step("load nftables table", lambda: self._nft_f(self._ruleset()))])
        except EnforcementError:
            try:
                self._nft_f(fallback_ruleset(self._settings))
            except EnforcementError as exc:
                raise EnforcementError(f"cannot even load the fallback table: {exc}") from exc
            raise

    def revert(self) -> None:
        self._nft_f(f"table inet {TABLE}\ndelete table inet {TABLE}\n")

    def health(self) -> Health:
        try:
            listing = self._run(["list", "table", "inet", TABLE])
        except EnforcementError as exc:
            return Health(self.name, False, f"table inet {TABLE} missing: {exc}")
        if f"redirect to :{self._settings.proxy_port}" not in listing:
            return Health(self.name, False, "fallback table only: all egress of students dropped")
        return Health(self.name, True, f"table inet {TABLE} loaded")

    def listing(self) -> str | None:
        try:
            return self._run(["list", "table", "inet", TABLE])
        except EnforcementError:
            return None

    def _ruleset(self) -> str:
        return ruleset(self._settings)

    def _nft_f(self, text: str) -> None:
        self._run(["-f", "-"], stdin=text)

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        if not self._settings.enforce:
            raise EnforcementError("nftables refused: enforce is not set in the agent config")
        try:
            done = subprocess.run(
                [*self._nft_argv, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EnforcementError(f"nft could not run: {exc}") from exc
        if done.returncode != 0:
            raise EnforcementError(f"nft {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout
