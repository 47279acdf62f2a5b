"""Every command of ``airflow-dlt`` and ``airflow dlt``, declared once.

A command is a :class:`Command` (name, help, handler, :class:`Argument` s); commands under a common word
(``pools``) form a :class:`Group`. :mod:`.main` renders :data:`COMMANDS` twice: as argparse subparsers for
the ``airflow-dlt`` console script, and as Airflow's ``GroupCommand`` / ``ActionCommand`` / ``Arg`` under
``airflow dlt``. A new command or option is one entry here and appears in both. Imports nothing heavy:
Airflow's CLI imports this module on every ``airflow`` command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from airflow_dlt_provider.cli import handlers

Handler = Callable[[argparse.Namespace], int]
"""Runs a command from its parsed arguments and returns the exit code."""


@dataclass(frozen=True)
class Argument:
    """One option (``flags`` start with ``-``) or positional argument, in ``add_argument``'s terms."""

    flags: tuple[str, ...]
    help: str
    default: str | None = None
    action: Literal["store_true"] | None = None
    choices: tuple[str, ...] | None = None
    nargs: Literal["?"] | None = None
    metavar: str | None = None

    def parser_options(self) -> dict[str, Any]:
        """The keyword arguments of ``add_argument`` and of Airflow's ``Arg``: the fields that are set."""
        options = {
            "help": self.help,
            "default": self.default,
            "action": self.action,
            "choices": self.choices,
            "nargs": self.nargs,
            "metavar": self.metavar,
        }
        return {name: value for name, value in options.items() if value is not None}


@dataclass(frozen=True)
class Command:
    """One command: ``airflow-dlt [<group>] <name>``, and the same under ``airflow dlt``.

    ``description`` is what ``--help`` shows above the arguments (when unset: nothing in ``airflow-dlt``,
    ``help`` in ``airflow dlt``, as each CLI does by default).
    """

    name: str
    help: str
    handler: Handler
    arguments: tuple[Argument, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class Group:
    """Commands under a common word: ``airflow-dlt pools sync``."""

    name: str
    help: str
    commands: tuple[Command, ...]


DAGS_FOLDER_OPTION = Argument(
    ("--dags-folder", "-d"), help="DAGs folder to parse (default: Airflow's configured core.dags_folder)"
)

POOLS = Group(
    "pools",
    help="pools of dlt pipelines (one slot each)",
    commands=(
        Command(
            "sync",
            help="create the missing pools the dlt tasks of the DAGs folder use; report (--fix: set) existing "
            "ones with other slots than needed",
            handler=handlers.pools_sync,
            arguments=(
                DAGS_FOLDER_OPTION,
                Argument(("--dry-run",), action="store_true", help="only print what would be created or set"),
                Argument(
                    ("--fix",),
                    action="store_true",
                    help="set existing pools whose slots are not what their dlt tasks need",
                ),
            ),
        ),
        Command(
            "export",
            help="print the pools as JSON for `airflow pools import`",
            handler=handlers.pools_export,
            arguments=(
                DAGS_FOLDER_OPTION,
                Argument(("-o", "--output"), help="write to this file instead of stdout"),
            ),
        ),
    ),
)

CHECK = Command(
    "check",
    help="import every dlt task's source and check its resource names (for CI; parse time skips this)",
    handler=handlers.check,
    arguments=(
        Argument(("dags_folder",), nargs="?", help="DAGs folder (default: Airflow's core.dags_folder)"),
    ),
)

INIT = Command(
    "init",
    help="write an Airflow DAG (DltTaskGroup) for an existing dlt pipeline script",
    description=(
        "Read a dlt pipeline script (never run it), write a DAG that loads its source with DltTaskGroup, "
        "and print the requirements for Cloud Composer, Astronomer and MWAA, the pools to create and the "
        "connection to define."
    ),
    handler=handlers.init,
    arguments=(
        Argument(("pipeline_script",), metavar="PIPELINE_SCRIPT", help="the dlt pipeline script (.py)"),
        Argument(
            ("--dags-folder",),
            help="where to write the DAG (default: Airflow's configured core.dags_folder)",
        ),
        Argument(("--source",), help="the @dlt.source/@dlt.resource function to load"),
        Argument(("--dag-id",), help="DAG id (default: dlt_<pipeline_name>)"),
        Argument(("--schedule",), default="@daily", help="DAG schedule, or 'none' (default: @daily)"),
        Argument(("--conn-id",), help="destination connection id (default per destination)"),
        Argument(("--force",), action="store_true", help="overwrite an existing DAG file"),
    ),
)

COMMANDS: tuple[Command | Group, ...] = (POOLS, CHECK, INIT)
"""What ``airflow-dlt`` and ``airflow dlt`` offer, in the order ``--help`` lists them."""
