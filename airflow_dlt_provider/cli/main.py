"""The ``airflow-dlt`` command (and ``airflow dlt ...`` on Airflow versions that let providers add commands).

``airflow-dlt pools sync``   create the pools the dlt tasks of the DAGs folder need (one slot each); report
                             existing pools with other slots (``--fix`` sets them)
``airflow-dlt pools export`` the same pools as JSON for ``airflow pools import`` (Composer, MWAA, Astronomer)
``airflow-dlt check``        import every dlt task's source, check its resource names (what parse time skips)
``airflow-dlt init``         scaffold a DAG from a dlt pipeline script

Each command group is added by a ``register_<group>(subparsers)`` function listed in :data:`REGISTRARS`, so
a new group (``init``, ``check``) is one function more. Handlers take the parsed ``argparse.Namespace`` and
return the exit code; the same handlers serve ``airflow dlt ...``. This module imports nothing heavy at the
top: Airflow's CLI imports it on every ``airflow`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------- pools


def _print_import_errors(errors: dict[str, str], out: TextIO) -> None:
    for path, error in sorted(errors.items()):
        first_line = error.strip().splitlines()[-1] if error.strip() else error
        print(f"warning: DAG file {path} failed to import, its pools are unknown: {first_line}", file=out)


def pools_sync(args: argparse.Namespace) -> int:
    """Create the missing pools of the DAGs folder's dlt tasks; existing pools are left alone."""
    from airflow_dlt_provider.pools.sync import parse_dags_folder, pools_needed, sync_pools

    dags, errors = parse_dags_folder(args.dags_folder)
    _print_import_errors(errors, sys.stderr)
    needs = pools_needed(dags)
    fix = bool(getattr(args, "fix", False))
    result = sync_pools(needs, dry_run=args.dry_run, fix=fix)
    verb = "would create" if args.dry_run else "created"
    set_verb = "would set" if args.dry_run else "set"
    mismatched = {need.name for need in result.mismatched}
    for need in needs:
        found = result.existing.get(need.name)
        if found is None:
            print(f"{verb:<9} {need.name} ({_slots(need.slots)})")
        elif need.name not in mismatched:
            print(f"exists    {need.name} ({_slots(found)}), as needed")
        elif fix:
            print(f"{set_verb:<9} {need.name} from {_slots(found)} to {need.slots}")
        else:
            print(f"mismatch  {need.name} has {_slots(found)}, its dlt tasks need {need.slots}")
            why = (
                "a task that needs more will never be scheduled"
                if found < need.slots
                else "the extra slots let tasks of one pipeline start together, only to wait for each other "
                "and fail after [dlt] holder_wait_seconds"
            )
            print(
                f"warning: pool {need.name}: {why}; `airflow-dlt pools sync --fix` sets it", file=sys.stderr
            )
    fixed = f", {len(result.mismatched)} {set_verb}" if fix else ""
    print(
        f"{len(needs)} pool(s) used by dlt tasks in {len(dags)} DAG(s): "
        f"{len(result.created)} {verb}, {len(result.existing)} already there{fixed}"
        + (
            f", {len(result.mismatched)} with other slots than needed"
            if result.mismatched and not fix
            else ""
        )
    )
    return 1 if errors or (result.mismatched and not fix) else 0


def _slots(count: int) -> str:
    return f"{count} slot{'s' if count != 1 else ''}"


def pools_export(args: argparse.Namespace) -> int:
    """Write the pools of the DAGs folder's dlt tasks as JSON for ``airflow pools import``."""
    from airflow_dlt_provider.pools.sync import export_pools, parse_dags_folder, pools_needed

    dags, errors = parse_dags_folder(args.dags_folder)
    _print_import_errors(errors, sys.stderr)
    document = json.dumps(export_pools(pools_needed(dags)), indent=2, sort_keys=True) + "\n"
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(document)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(document)
    return 1 if errors else 0


def _dags_folder_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dags-folder",
        "-d",
        dest="dags_folder",
        default=None,
        help="DAGs folder to parse (default: Airflow's configured core.dags_folder)",
    )


def register_pools(subparsers: Any) -> None:
    """Add ``pools sync`` and ``pools export``."""
    pools = subparsers.add_parser("pools", help="pools of dlt pipelines (one slot each)")
    commands = pools.add_subparsers(dest="pools_command", metavar="COMMAND", required=True)

    sync = commands.add_parser(
        "sync",
        help="create the missing pools the dlt tasks of the DAGs folder use; report (--fix: set) existing ones "
        "with other slots than needed",
    )
    _dags_folder_option(sync)
    sync.add_argument("--dry-run", action="store_true", help="only print what would be created or set")
    sync.add_argument(
        "--fix", action="store_true", help="set existing pools whose slots are not what their dlt tasks need"
    )
    sync.set_defaults(handler=pools_sync)

    export = commands.add_parser("export", help="print the pools as JSON for `airflow pools import`")
    _dags_folder_option(export)
    export.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    export.set_defaults(handler=pools_export)


def check(args: argparse.Namespace) -> int:
    """Import each dlt task's source and check its resource names; 1 when something is wrong."""
    from airflow_dlt_provider.authoring.full_check import check_dlt_tasks
    from airflow_dlt_provider.pools.sync import parse_dags_folder

    dags, errors = parse_dags_folder(args.dags_folder)
    for path, error in sorted(errors.items()):
        last_line = error.strip().splitlines()[-1] if error.strip() else error
        print(f"error     DAG file {path} failed to import: {last_line}")
    findings = check_dlt_tasks(dags)
    for finding in findings:
        print(finding)
    failed = [f for f in findings if f.kind == "error"]
    tasks = sum(1 for dag in dags for task in dag.tasks if task.__class__.__name__ == "DltRunOperator")
    print(
        f"{tasks} dlt task(s) in {len(dags)} DAG(s) checked: {len(failed)} error(s), "
        f"{len(findings) - len(failed)} not checked, {len(errors)} DAG file(s) failed to import"
    )
    return 1 if failed or errors else 0


def register_check(subparsers: Any) -> None:
    """Add ``check [DAGS_FOLDER]``."""
    parser = subparsers.add_parser(
        "check",
        help="import every dlt task's source and check its resource names (for CI; parse time skips this)",
    )
    parser.add_argument(
        "dags_folder", nargs="?", default=None, help="DAGs folder (default: Airflow's core.dags_folder)"
    )
    parser.set_defaults(handler=check)


def register_init(subparsers: Any) -> None:
    """Add ``init PIPELINE_SCRIPT [--dags-folder DIR]`` (scaffold a DltTaskGroup DAG; see scaffold/command.py)."""
    from airflow_dlt_provider.scaffold.command import register_init as register

    register(subparsers)


REGISTRARS: list[Callable[[Any], None]] = [register_pools, register_check, register_init]
"""Functions adding a command group to the ``airflow-dlt`` parser."""


# ---------------------------------------------------------------- entry points


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-dlt", description="Tools of the dlt provider for Airflow.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``airflow-dlt``."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except Exception as error:  # a clear one-line message instead of a traceback
        from airflow_dlt_provider.exceptions import DltProviderError

        if not isinstance(error, (DltProviderError, ValueError, OSError)):
            raise
        print(f"airflow-dlt: error: {error}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------- `airflow dlt ...` (provider-info "cli")


def _airflow_action(handler: Handler) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        code = handler(args)
        if code:
            sys.exit(code)

    run.__name__ = handler.__name__
    return run


def get_airflow_cli_commands() -> list[Any]:
    """``airflow dlt pools sync|export`` and ``airflow dlt check``, for Airflow versions whose provider info
    accepts ``cli``."""
    from airflow_dlt_provider._compat import airflow_cli_classes

    ActionCommand, Arg, GroupCommand = airflow_cli_classes()

    dags_folder = Arg(
        ("--dags-folder", "-d"),
        dest="dags_folder",
        default=None,
        help="DAGs folder to parse (default: Airflow's configured core.dags_folder)",
    )
    dry_run = Arg(("--dry-run",), action="store_true", help="only print what would be created or set")
    fix = Arg(
        ("--fix",),
        action="store_true",
        help="set existing pools whose slots are not what their dlt tasks need",
    )
    output = Arg(("-o", "--output"), default=None, help="write to this file instead of stdout")
    pools = GroupCommand(
        name="pools",
        help="Pools of dlt pipelines (one slot each)",
        subcommands=(
            ActionCommand(
                name="sync",
                help="Create the missing pools the dlt tasks of the DAGs folder use",
                func=_airflow_action(pools_sync),
                args=(dags_folder, dry_run, fix),
            ),
            ActionCommand(
                name="export",
                help="Print the pools as JSON for `airflow pools import`",
                func=_airflow_action(pools_export),
                args=(dags_folder, output),
            ),
        ),
    )
    check_command = ActionCommand(
        name="check",
        help="Import every dlt task's source and check its resource names",
        func=_airflow_action(check),
        args=(
            Arg(("dags_folder",), nargs="?", default=None, help="DAGs folder (default: core.dags_folder)"),
        ),
    )
    return [
        GroupCommand(
            name="dlt", help="dlt provider tools (same as `airflow-dlt`)", subcommands=(pools, check_command)
        )
    ]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
