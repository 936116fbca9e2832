"""`lessongate-policy`: check, explain and export a district policy directory.

Exit codes: 0 success, 1 the policy (or a file it names) is not usable, 2 usage error.
Every failure is a message naming the path; never a traceback.

Subcommands register themselves in `_COMMANDS`: a function that adds its parser and points
`run` at the function that executes it, so new subcommands are one function pair each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from policies.cli_explain import add_explain, add_export
from policies.errors import PolicyError, PolicyIssue
from policies.loader import load_policy

PROG = "lessongate-policy"


def _add_check(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a policy directory and list every problem",
        description="Validate a policy directory (district.toml, rooms.toml, objectives/*.toml). "
        "Exit 0 when it is valid, 1 with every problem listed otherwise.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="the policy directory")
    parser.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    policy = load_policy(directory)
    resources = sum(len(o.resources) for o in policy.objectives)
    print(
        f"policy OK: {len(policy.rooms)} rooms, {len(policy.objectives)} objectives, "
        f"{resources} resources, version {policy.version}"
    )
    return 0


# Each entry adds one subcommand.
_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_check,
    add_explain,
    add_export,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Check, explain and export a LessonGate district policy."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # argparse stops collecting a positional list at the first option, so URLs written
        # after `--room R` arrive here; a subcommand that takes them says where they go.
        spill = getattr(args, "more_positionals", None)
        if extra and (spill is None or any(e.startswith("-") for e in extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if extra and spill is not None:
            getattr(args, spill).extend(extra)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 after --help
        return exc.code if isinstance(exc.code, int) else 2
    directory: Path | None = getattr(args, "directory", None)
    try:
        code: int = args.run(args)
        return code
    except PolicyError as exc:
        _print_problems(exc.issues, directory)
        return 1
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except OSError as exc:
        where = exc.filename if exc.filename is not None else directory
        print(f"{PROG}: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _print_problems(issues: list[PolicyIssue], directory: Path | None) -> None:
    for issue in issues:
        # Paths relative to where the command ran, so editors can jump to file:line.
        if directory is not None and issue.file and not Path(issue.file).is_absolute():
            issue = replace(issue, file=str(directory / issue.file))
        print(issue, file=sys.stderr)
    count = len(issues)
    print(
        f"policy NOT OK: {count} problem{'s' if count != 1 else ''}"
        + (f" in {directory}" if directory is not None else ""),
        file=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
