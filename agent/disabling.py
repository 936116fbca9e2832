"""`lessongate-agent disable` and `enable`, with or without a running agent.

The firewall table outlives the agent on purpose, so IT must be able to switch enforcement off
when the agent is dead too. With a running agent, the agent checks the code, stops applying plans
and reverts its backends; without one, this module checks the code itself. Either way the
nftables table and the browser policies are then removed (`agent.enforce.disable`, only with
`enforce = true`), the record in the state folder keeps the device disabled across restarts, and
the audit events (`enforcement_disabled`, `disable_refused`, `enforcement_enabled`) carry who
asked, never the code.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from typing import Any

from agent import enforcement
from agent.config import AgentConfig
from agent.control import ControlError, request
from agent.events import Event, EventSink, JsonLinesLog


def read_code(code: str | None, from_stdin: bool) -> str:
    if code is not None:
        return code
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("IT disable code: ")


def policy_code_hash(cfg: AgentConfig) -> str | None:
    """The config's hash, else the policy's: the last good signed bundle, else `policy_dir`."""
    if cfg.disable_code_hash:
        return cfg.disable_code_hash
    from agent.report.enrollment import EnrollmentStore
    from agent.report.policy_sync import PolicyKeeper
    from policies.errors import PolicyError
    from policies.loader import load_policy

    policy = None
    try:
        enrolled = EnrollmentStore(cfg.state_dir).load()
        if enrolled is not None:
            policy = PolicyKeeper(cfg.state_dir, enrolled.signing_public_key).load_last_good()
    except Exception:  # an unusable enrollment: fall back to the policy folder
        policy = None
    if policy is None:
        try:
            policy = load_policy(cfg.policy_dir)
        except (PolicyError, OSError):
            return None
    return policy.district.disable_code_hash


def _report(cfg: AgentConfig, kind: str, data: dict[str, Any]) -> None:
    """Straight into the agent's log and outbox, for when the agent is not running."""
    from agent.report.outbox import Outbox
    from agent.report.wiring import OUTBOX_FILE
    from agent.state_store import ensure_private_dir

    ensure_private_dir(cfg.state_dir)
    event = Event.new(kind, data)
    sinks: list[EventSink] = [JsonLinesLog(cfg.state_dir / "events.jsonl")]
    outbox = Outbox(cfg.state_dir / OUTBOX_FILE)
    try:
        for sink in (*sinks, outbox):
            sink.append(event)
    finally:
        outbox.close()


def _remove_host_rules(cfg: AgentConfig, code: str) -> str | None:
    """The nftables table and browser policies, whatever the agent had loaded; the problem."""
    if not cfg.enforce:
        return None
    from agent.enforce import EnforcementError, disable

    settings, _ = enforcement.enforce_settings(
        cfg, code_hash=policy_code_hash(cfg), resolve_server=False
    )
    try:
        if not disable(settings, code):
            return "the code did not match here (config and policy differ from the agent's?)"
    except EnforcementError as e:
        return str(e)
    return None


def disable(cfg: AgentConfig, code: str) -> int:
    by = f"cli:uid={os.getuid()}"
    try:
        answer: dict[str, Any] | None = request(
            cfg.control_socket, {"cmd": "disable", "code": code}
        )
    except ControlError:
        answer = None
    if answer is not None and not answer.get("ok"):
        print(f"lessongate-agent disable: refused ({answer.get('error')})", file=sys.stderr)
        return 1
    if answer is None:  # no agent running: check the code here
        from agent.enforce import check_code

        settings, _ = enforcement.enforce_settings(
            cfg, code_hash=policy_code_hash(cfg), resolve_server=False
        )
        if not check_code(settings, code):
            reason = "wrong_code" if settings.disable_code_hash else "no_disable_code"
            _report(cfg, "disable_refused", {"by": by, "reason": reason})
            print(f"lessongate-agent disable: refused ({reason})", file=sys.stderr)
            return 1
        enforcement.mark_disabled(cfg.state_dir, time.time(), by)
    problem = _remove_host_rules(cfg, code)
    if answer is None:
        _report(cfg, "enforcement_disabled", {"by": by, "problems": [problem] if problem else []})
    if problem:
        print(f"lessongate-agent disable: disabled, but: {problem}", file=sys.stderr)
        return 1
    print("enforcement disabled: nothing is enforced until `lessongate-agent enable`")
    return 0


def enable(cfg: AgentConfig) -> int:
    try:
        answer = request(cfg.control_socket, {"cmd": "enable"})
    except ControlError:
        if enforcement.clear_disabled(cfg.state_dir):
            _report(cfg, "enforcement_enabled", {"by": f"cli:uid={os.getuid()}"})
        print("enforcement enabled: the agent enforces the policy when it starts")
        return 0
    if not answer.get("ok"):
        print(f"lessongate-agent enable: {answer.get('error')}", file=sys.stderr)
        return 1
    print("enforcement enabled")
    return 0


def hash_code(from_stdin: bool) -> int:
    """Prints a `disable_code_hash` line. argon2id with the library's strong defaults: the code
    is rarely typed, and it guards the whole device, unlike a PIN behind a lockout."""
    from argon2 import PasswordHasher

    if from_stdin:
        code = sys.stdin.readline().rstrip("\n")
    else:
        code = getpass.getpass("New IT disable code: ")
        if getpass.getpass("Same code again: ") != code:
            print("error: the two codes differ", file=sys.stderr)
            return 2
    if len(code) < 8:
        print("error: a disable code needs at least 8 characters", file=sys.stderr)
        return 2
    print(f'disable_code_hash = "{PasswordHasher().hash(code)}"')
    return 0
