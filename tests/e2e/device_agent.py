"""A stand-in for the agent service in the e2e lab: the real enforcement backends, driven by
one-line commands on stdin ("open <objective>...", "close", "status", "blocked").

Runs as root inside the device namespace (and a private mount namespace for resolv.conf), with
enforce = true, which is safe there and only there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.enforce import EnforceSettings, select_backends
from agent.enforce.proxy import ProxyEnforcer
from agent.plan import EnforcementPlan, LockState
from policies.compiler import compile_rules
from policies.loader import load_policy


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    raw = config["settings"]
    settings = EnforceSettings(
        enforce=True,
        proxy_port=raw["proxy_port"],
        state_dir=Path(raw["state_dir"]),
        resolvers=tuple(raw["resolvers"]),
        agent_uid=0,
        ui_port=raw["ui_port"],
        denied_processes=tuple(raw["denied_processes"]),
        root=Path(raw["root"]),
    )
    policy = load_policy(Path(config["policy_dir"]))
    room = config["room"]
    backends = select_backends(
        settings, on_process_event=lambda e: print(f"event process {e.name} {e.action}", flush=True)
    )
    proxy = next(b for b in backends if isinstance(b, ProxyEnforcer))

    def apply(plan: EnforcementPlan) -> str:
        errors = []
        for backend in backends:
            try:
                backend.apply(plan)
            except Exception as exc:
                errors.append(f"{backend.name}: {exc}")
        return "error " + "; ".join(errors) if errors else f"ok {plan.state}"

    closed = EnforcementPlan(LockState.CLOSED, compile_rules(policy, room_id=room))
    print("ready " + apply(closed), flush=True)
    session = 0
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "open":
            session += 1
            rules = compile_rules(policy, room_id=room, objective_ids=words[1:])
            plan = EnforcementPlan(LockState.OPEN, rules, session_id=f"s{session}")
            print(apply(plan), flush=True)
        elif words[0] == "close":
            print(apply(closed), flush=True)
        elif words[0] == "status":
            print("status " + json.dumps([vars(b.health()) for b in backends]), flush=True)
        elif words[0] == "blocked":
            print("blocked " + json.dumps(proxy.blocked_hosts()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
