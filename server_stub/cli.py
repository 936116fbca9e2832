"""`lessongate-server`: run the server and manage it from the command line.

    lessongate-server serve [--host H] [--port P] [--workers N] [--heartbeat-flush-ms MS]
    lessongate-server migrate
    lessongate-server create-admin USERNAME [--name NAME] [--password-stdin]
    lessongate-server create-teacher USERNAME --room ROOM [--room ...] [--password-stdin]
    lessongate-server create-enrollment-token (--room ROOM | --school SCHOOL) [--uses N]
    lessongate-server import-policy [DIRECTORY]
    lessongate-server purge

Every command takes --data-dir (default $LESSONGATE_DATA or ./lessongate-data) and
--database-url (default $LESSONGATE_DATABASE_URL; empty means SQLite in the data directory).
With --password-stdin the password is the first line of standard input and, for create-teacher,
the PIN the second.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from server_stub.config import Settings, settings_from_env
from server_stub.db.migrate import upgrade
from server_stub.db.models import EnrollmentToken, Room, utcnow
from server_stub.db.session import make_engine, make_sessionmaker
from server_stub.people import PeopleError, create_user
from server_stub.security import Hasher, new_token, token_digest


class CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (SQLite file, signing key)")
    common.add_argument("--database-url", help="e.g. postgresql://user@host/db")
    common.add_argument("--signing-key", help="Ed25519 PEM key file (default: in the data dir)")
    p = argparse.ArgumentParser(prog="lessongate-server", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", parents=[common], help="migrate, then serve API and dashboard")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--retention-days", type=int, default=None)
    s.add_argument("--log-level", default="info")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (PostgreSQL only; default 1)",
    )
    s.add_argument(
        "--heartbeat-flush-ms",
        type=int,
        default=200,
        help="how often buffered heartbeats are written (default 200; the dashboard lags by it)",
    )
    sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    a = sub.add_parser("create-admin", parents=[common], help="create or update an IT admin")
    a.add_argument("username")
    a.add_argument("--name", help="display name (default: the username)")
    a.add_argument("--password-stdin", action="store_true")
    t = sub.add_parser("create-teacher", parents=[common], help="create or update a teacher")
    t.add_argument("username")
    t.add_argument("--name")
    t.add_argument("--room", action="append", default=[], help="room id (repeatable)")
    t.add_argument("--password-stdin", action="store_true")
    e = sub.add_parser("create-enrollment-token", parents=[common], help="print a new token")
    scope = e.add_mutually_exclusive_group(required=True)
    scope.add_argument("--room")
    scope.add_argument("--school")
    e.add_argument("--uses", type=int, default=50)
    e.add_argument("--expires-hours", type=float, default=72)
    e.add_argument("--label", default="")
    i = sub.add_parser("import-policy", parents=[common], help="load and store a policy dir")
    i.add_argument("directory", nargs="?", help="default: the bundled district policy")
    pu = sub.add_parser("purge", parents=[common], help="delete events past retention now")
    pu.add_argument("--retention-days", type=int, default=None)
    return p


def _settings(args: argparse.Namespace) -> Settings:
    return settings_from_env(
        data_dir=args.data_dir,
        database_url=args.database_url,
        signing_key=args.signing_key,
        retention_days=getattr(args, "retention_days", None),
    )


def _secret(label: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CliError(f"no {label} on standard input")
        return line.rstrip("\r\n")
    first = getpass.getpass(f"{label}: ")
    if getpass.getpass(f"{label} (again): ") != first:
        raise CliError(f"the two {label}s differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (CliError, PeopleError) as exc:
        print(f"lessongate-server: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "serve":
        return _serve(settings, args)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        if args.command == "migrate":
            print(f"database schema up to date ({engine.url.render_as_string()})")
            return 0
        sessions = make_sessionmaker(engine)
        with sessions() as db:
            if args.command in ("create-admin", "create-teacher"):
                role = "admin" if args.command == "create-admin" else "teacher"
                password = _secret("password", args.password_stdin)
                pin = _secret("PIN", args.password_stdin) if role == "teacher" else None
                create_user(
                    db,
                    Hasher(),
                    username=args.username,
                    display_name=args.name or args.username,
                    role=role,
                    password=password,
                    pin=pin,
                    rooms=getattr(args, "room", []),
                )
                print(f"{role} {args.username} saved")
            elif args.command == "create-enrollment-token":
                print(_enrollment_token(db, args))
            elif args.command == "import-policy":
                _import(db, args.directory)
            elif args.command == "purge":
                from server_stub.retention import purge

                result = purge(db, settings.retention_days)
                print(f"purged {result.events} events older than {settings.retention_days} days")
        return 0
    finally:
        engine.dispose()


def _enrollment_token(db: Session, args: argparse.Namespace) -> str:
    if args.room and db.get(Room, args.room) is None:
        raise CliError(f"unknown room {args.room!r} (run import-policy first)")
    if args.uses < 1 or args.expires_hours <= 0:
        raise CliError("--uses and --expires-hours must be positive")
    token = new_token()
    db.add(
        EnrollmentToken(
            token_hash=token_digest(token),
            label=args.label,
            room_id=args.room,
            school=args.school,
            expires_at=utcnow() + timedelta(hours=args.expires_hours),
            max_uses=args.uses,
            created_by="cli",
        )
    )
    db.commit()
    return token


def _import(db: Session, directory: str | None) -> None:
    from policies import DEFAULT_POLICY_DIR
    from policies.errors import PolicyError
    from server_stub.policy_store import import_policy

    path = Path(directory) if directory else DEFAULT_POLICY_DIR
    try:
        policy = import_policy(db, path, "cli")
    except PolicyError as exc:
        raise CliError(f"policy {path} not imported:\n{exc}") from exc
    db.commit()
    print(f"imported policy {policy.version}: {len(policy.rooms)} rooms")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from server_stub.serving import ServeOptions, WorkersRefused, check_workers, serve

    if not 10 <= args.heartbeat_flush_ms <= 60_000:
        raise CliError("--heartbeat-flush-ms must be between 10 and 60000")
    settings = replace(settings, heartbeat_flush_s=args.heartbeat_flush_ms / 1000)
    try:
        check_workers(settings, args.workers)
    except WorkersRefused as exc:
        raise CliError(str(exc)) from exc
    engine = make_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    opts = ServeOptions(args.host, args.port, args.log_level, args.workers)
    return serve(settings, opts)


if __name__ == "__main__":
    sys.exit(main())
