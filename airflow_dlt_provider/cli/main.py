"""The ``airflow-dlt`` console script and ``airflow dlt ...`` (the provider-info ``cli`` entry, on Airflow
versions that read it): two renderings of the commands declared once in :mod:`.commands`.

``airflow-dlt pools sync``   create the pools the dlt tasks of the DAGs folder need (one slot each); report
                             existing pools with other slots (``--fix`` sets them)
``airflow-dlt pools export`` the same pools as JSON for ``airflow pools import`` (Composer, MWAA, Astronomer)
``airflow-dlt check``        import every dlt task's source, check its resource names (what parse time skips)
``airflow-dlt init``         scaffold a DAG from a dlt pipeline script

:func:`build_parser` renders the declaration as argparse subparsers, :func:`get_airflow_cli_commands` as
Airflow's ``GroupCommand`` / ``ActionCommand`` / ``Arg`` under ``dlt``; both run a command through
:func:`run_command`, so exit codes and error messages are the same. This module imports nothing heavy at the
top: Airflow's CLI imports it on every ``airflow`` command.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from airflow_dlt_provider.cli.commands import COMMANDS, Command, Group, Handler

AIRFLOW_GROUP_HELP = "dlt provider tools (same as `airflow-dlt`)"


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a handler; a provider error, a bad value or a file error is a one-line message and exit code 2."""
    try:
        return handler(args)
    except Exception as error:
        from airflow_dlt_provider.exceptions import DltProviderError

        if not isinstance(error, (DltProviderError, ValueError, OSError)):
            raise
        print(f"airflow-dlt: error: {error}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------- `airflow-dlt ...` (argparse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-dlt", description="Tools of the dlt provider for Airflow.")
    _add_subparsers(parser, COMMANDS, dest="command")
    return parser


def _add_subparsers(parser: argparse.ArgumentParser, entries: Iterable[Command | Group], dest: str) -> None:
    subparsers = parser.add_subparsers(dest=dest, metavar="COMMAND", required=True)
    for entry in entries:
        if isinstance(entry, Group):
            group = subparsers.add_parser(entry.name, help=entry.help)
            _add_subparsers(group, entry.commands, dest=f"{entry.name}_command")
        else:
            command = subparsers.add_parser(entry.name, help=entry.help, description=entry.description)
            for argument in entry.arguments:
                command.add_argument(*argument.flags, **argument.parser_options())
            command.set_defaults(handler=entry.handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``airflow-dlt``."""
    args = build_parser().parse_args(argv)
    return run_command(args.handler, args)


# ---------------------------------------------------------------- `airflow dlt ...` (provider-info "cli")


def get_airflow_cli_commands() -> list[Any]:
    """The ``dlt`` group of the ``airflow`` command, for Airflow versions whose provider info reads ``cli``."""
    from airflow_dlt_provider._compat import airflow_cli_classes

    classes = airflow_cli_classes()
    _, _, group_command = classes
    subcommands = tuple(_airflow_command(entry, classes) for entry in COMMANDS)
    return [group_command(name="dlt", help=AIRFLOW_GROUP_HELP, subcommands=subcommands)]


def _airflow_command(entry: Command | Group, classes: tuple[Any, Any, Any]) -> Any:
    action_command, arg, group_command = classes
    if isinstance(entry, Group):
        subcommands = tuple(_airflow_command(command, classes) for command in entry.commands)
        return group_command(name=entry.name, help=entry.help, subcommands=subcommands)
    return action_command(
        name=entry.name,
        help=entry.help,
        description=entry.description,
        func=_airflow_action(entry.handler),
        args=tuple(arg(argument.flags, **argument.parser_options()) for argument in entry.arguments),
    )


def _airflow_action(handler: Handler) -> Callable[[argparse.Namespace], None]:
    """Airflow ignores what a command returns: a non-zero exit code leaves through ``sys.exit``."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> None:
        code = run_command(handler, args)
        if code:
            sys.exit(code)

    return run


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
