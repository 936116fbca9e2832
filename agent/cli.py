"""`lessongate-agent`: run the agent, ask for its status, unlock and end sessions, open the panel.

    lessongate-agent [--config FILE] run
    lessongate-agent [--config FILE] status [--json]
    lessongate-agent [--config FILE] unlock --teacher ID --objective ID [--objective ID...]
                                            [--minutes N] [--pin-stdin]
    lessongate-agent [--config FILE] end
    lessongate-agent [--config FILE] disable [--code CODE | --code-stdin]
    lessongate-agent [--config FILE] enable
    lessongate-agent [--config FILE] reload
    lessongate-agent [--config FILE] panel
    lessongate-agent [--config FILE] enroll [--server URL] --token TOKEN [--room ROOM]
    lessongate-agent hash-pin --teacher ID [--pin-stdin]
    lessongate-agent hash-code [--code-stdin]
    lessongate-agent selftest
    lessongate-agent [--config FILE] report-uninstalled

All but `run`, `panel`, `enroll`, `report-uninstalled`, `hash-pin` and `hash-code` talk to the
running agent over its control socket (`agent.control`); `disable` and `enable` also work when
the agent is not running (`agent.disabling`). Exit codes: 0 done, 1 refused (wrong PIN or code,
nothing to end...), 2 usage or configuration error, 3 the agent cannot be reached.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import policies
from agent.config import ENV_VAR, AgentConfig, ConfigError, load_config
from agent.control import ControlError, request

if TYPE_CHECKING:  # `status` and friends stay quick to start: no policy compiler imported
    from agent.enforce.base import Enforcer
    from agent.enforce.processes import ProcessEvent
    from agent.enforce.settings import EnforceSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lessongate-agent", description="LessonGate endpoint agent")
    p.add_argument(
        "--version", action="version", version=f"lessongate-agent {policies.__version__}"
    )
    p.add_argument("--config", help=f"agent config TOML (default: ${ENV_VAR}, else built-in)")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run the agent service in the foreground")
    st = sub.add_parser("status", help="show the device's state")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    un = sub.add_parser("unlock", help="start a session (asks for the teacher's PIN)")
    un.add_argument("--teacher", required=True, help="staff id")
    un.add_argument("--objective", action="append", required=True, help="objective id (repeat)")
    un.add_argument("--minutes", type=int, help="length (default: the grade band's default)")
    un.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    sub.add_parser("end", help="end the running session")
    di = sub.add_parser("disable", help="stop enforcing on this device (needs IT's code)")
    code = di.add_mutually_exclusive_group()
    code.add_argument("--code", help="IT's disable code (else asked for on the terminal)")
    code.add_argument("--code-stdin", action="store_true", help="read the code from stdin")
    sub.add_parser("enable", help="enforce again after `disable`")
    sub.add_parser("reload", help="re-read the policy folder")
    sub.add_parser("panel", help="open the student/teacher window")
    sub.add_parser("selftest", help="check this build: bundled policy, proxy decisions")
    sub.add_parser("verify-signature")  # agent.report.verify's helper: no help, not listed
    sub.add_parser(
        "report-uninstalled", help="tell the server this device is being removed (uninstallers)"
    )
    en = sub.add_parser("enroll", help="enroll this device with the LessonGate server")
    en.add_argument("--server", help="server URL (default: server_url in the config)")
    en.add_argument("--token", required=True, help="enrollment token from IT")
    en.add_argument("--room", help="room id, if the token does not name one")
    hp = sub.add_parser("hash-pin", help="print a verifier-file line for a teacher's PIN")
    hp.add_argument("--teacher", required=True)
    hp.add_argument("--pin-stdin", action="store_true")
    hc = sub.add_parser("hash-code", help="print a disable_code_hash for IT's disable code")
    hc.add_argument("--code-stdin", action="store_true")
    return p


def select_enforcers(
    cfg: AgentConfig, on_process_event: Callable[[ProcessEvent], None] | None = None
) -> tuple[list[Enforcer], str | None, EnforceSettings | None]:
    """`agent.enforce.select_backends` for this config; on failure none, and why (in `status`)."""
    from agent.enforce import select_backends
    from agent.enforcement import enforce_settings

    try:
        settings, note = enforce_settings(cfg)
        return list(select_backends(settings, on_process_event)), note, settings
    except Exception as e:  # the agent still runs, closed, and says why
        return [], f"enforcement backends could not be set up: {e}", None


def _run(cfg: AgentConfig) -> int:
    import asyncio

    from agent.report.wiring import Reporting
    from agent.service import AgentService

    reporting = Reporting.build(cfg)
    cfg = reporting.config
    started: list[AgentService] = []

    def on_process_event(event: ProcessEvent) -> None:
        for service in started:  # the watcher starts with the first plan, after this is set
            service.on_process_event(event)

    enforcers, note, settings = select_enforcers(cfg, on_process_event)
    service = AgentService(
        cfg,
        enforcers,
        enforcers_note=note,
        online_verifier=reporting.verifier,
        sinks=reporting.sinks,
        initial_policy=reporting.initial_policy,
        enforce_settings=settings,
    )
    started.append(service)
    reporting.attach(service)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    mode = (
        "enforce"
        if cfg.enforce
        else "safe mode (enforce = false: host firewall and /etc untouched)"
    )
    print(f"lessongate-agent: {mode}; state in {cfg.state_dir}", file=sys.stderr, flush=True)
    if note:
        print(f"lessongate-agent: {note}", file=sys.stderr, flush=True)
    asyncio.run(main())
    return 0


def _minutes_left(seconds: int | None) -> str:
    return (
        "" if seconds is None else f" ({max(0, seconds) // 60} min {max(0, seconds) % 60} s left)"
    )


def format_status(s: dict[str, Any]) -> str:
    lines = [
        f"state:       {s['state']}" + (f" (session {s['session_id']})" if s["session_id"] else "")
    ]
    lines.append(
        f"device:      {s['device_id']}, room {s['room'] or '(none)'}"
        + (f" ({s['room_name']})" if s["room_name"] else "")
    )
    if s["state"] == "open":
        expires = time.strftime("%H:%M:%S", time.localtime(s["expires_at"]))
        lines += [
            f"teacher:     {s['teacher']}",
            f"objectives:  {', '.join(s['objectives'])}",
            f"expires at:  {expires}{_minutes_left(s['seconds_left'])}",
        ]
        lines += [f"extra link:  {url}" for url in s["links"]]
    lines.append(f"policy:      {s['policy_version'] or '(none loaded)'}")
    if s.get("policy_problem"):
        lines.append(f"  problem:   {s['policy_problem']}")
    e = s["enforcement"]
    backends = (
        ", ".join(f"{b['name']} {'ok' if b['ok'] else 'FAILING'}" for b in e["backends"]) or "none"
    )
    lines.append(f"enforcement: {e['mode']}; backends: {backends}")
    for key in ("note", "last_error"):
        if e.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {e[key]}")
    if s.get("pin_locked_for"):
        lines.append(f"PIN prompt locked for {s['pin_locked_for']} s")
    if s.get("verifier_problem"):
        lines.append(f"teacher verifiers: {s['verifier_problem']}")
    lines += _server_lines(s.get("server"))
    return "\n".join(lines)


def _server_lines(server: dict[str, Any] | None) -> list[str]:
    if not server:
        return []
    if not server.get("enrolled"):
        lines = ["server:      not enrolled"]
    else:
        seen = server.get("last_contact")
        when = time.strftime("%H:%M:%S", time.localtime(seen)) if seen else "never"
        lines = [
            f"server:      {server['server_url']} as {server['device_id']}, last contact {when}",
        ]
    lines.append(
        f"  outbox:    {server.get('outbox_depth', 0)} events waiting"
        + (
            f", {server['outbox_dropped']} telemetry dropped"
            if server.get("outbox_dropped")
            else ""
        )
        + (f", {server['outbox_rejected']} refused" if server.get("outbox_rejected") else "")
    )
    if server.get("policy_rejected"):
        lines.append(f"  policy rejected: {server['policy_rejected']}")
    if server.get("last_error"):
        lines.append(f"  last error: {server['last_error']}")
    return lines


def _enroll(cfg: AgentConfig, server: str | None, token: str, room: str | None) -> int:
    from agent.report.enrollment import EnrollmentStore, enroll
    from agent.report.errors import ServerError

    url = (server or cfg.server_url or "").rstrip("/")
    if not url.startswith(("https://", "http://")):
        print(
            "lessongate-agent enroll: give --server https://... (or server_url in the config)",
            file=sys.stderr,
        )
        return 2
    store = EnrollmentStore(cfg.state_dir)
    try:
        from agent.state_store import ensure_private_dir

        ensure_private_dir(cfg.state_dir)
        done = enroll(cfg, store, url, token, room)
    except ServerError as e:
        # Kept, so a running agent retries it with back-off and `status` shows why it fails.
        store.save_pending(url, token, room)
        print(
            f"lessongate-agent enroll: {url}: {e}\n"
            "  kept as a pending enrollment; the agent retries it",
            file=sys.stderr,
        )
        return 1
    print(
        f"enrolled with {done.server_url} as {done.device_id}"
        f" (room {done.room_id or '(none)'}); signing key {done.signing_key_id} pinned;"
        f" device token in {store.tokens.where}"
    )
    return 0


def _refusal(answer: dict[str, Any]) -> str:
    from agent.ui import i18n

    details = dict(answer.get("details") or {})
    if answer.get("retry_after") is not None:
        details["seconds"] = answer["retry_after"]
    words = i18n.error_text("en", answer.get("error"), **details)
    return f"refused ({answer.get('error')}): {words}"


def _pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Teacher PIN: ")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "selftest":  # needs no config and no running agent
        from agent import selftest

        return selftest.main()
    if args.cmd == "verify-signature":
        from agent.report import verify

        return verify.main()
    if args.cmd == "hash-code":
        from agent.disabling import hash_code

        return hash_code(args.code_stdin)
    if args.cmd == "hash-pin":
        from agent import teacher_auth

        return teacher_auth.main(
            ["hash", "--teacher", args.teacher] + (["--pin-stdin"] if args.pin_stdin else [])
        )
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"lessongate-agent: {e}", file=sys.stderr)
        return 2
    if args.cmd == "run":
        return _run(cfg)
    if args.cmd in ("disable", "enable"):
        from agent import disabling

        if args.cmd == "enable":
            return disabling.enable(cfg)
        return disabling.disable(cfg, disabling.read_code(args.code, args.code_stdin))
    if args.cmd == "enroll":
        return _enroll(cfg, args.server, args.token, args.room)
    if args.cmd == "report-uninstalled":
        from agent.report.uninstall import report_uninstalled

        return report_uninstalled(cfg)
    if args.cmd == "panel":
        if args.config:
            os.environ[ENV_VAR] = args.config  # the panel finds the UI through the same config
        panel = importlib.import_module("agent.ui.panel")
        return int(panel.main())
    payload: dict[str, Any] = {"cmd": args.cmd}
    if args.cmd == "unlock":
        payload.update(
            teacher=args.teacher,
            pin=_pin(args.pin_stdin),
            objectives=args.objective,
            minutes=args.minutes,
        )
    try:
        answer = request(cfg.control_socket, payload)
    except ControlError as e:
        print(f"lessongate-agent: {e}", file=sys.stderr)
        return 3
    if args.cmd == "status" and answer.get("ok"):
        print(
            json.dumps(answer["status"], indent=2, sort_keys=True)
            if args.json
            else format_status(answer["status"])
        )
        return 0
    if not answer.get("ok"):
        print(f"lessongate-agent {args.cmd}: {_refusal(answer)}", file=sys.stderr)
        return 1
    if args.cmd == "unlock":
        print(f"session {answer.get('details', {}).get('session_id')} started")
    elif args.cmd == "end":
        print("session ended; the device is closed")
    else:
        print("policy reloaded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
