"""The one declaration of the CLI (``cli/commands.py``) rendered twice: ``airflow-dlt`` (argparse) and
``airflow dlt`` (Airflow's provider ``cli`` objects) offer the same commands, arguments and handlers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import pytest

from airflow_dlt_provider.cli.commands import COMMANDS, Command, Group
from airflow_dlt_provider.cli.main import build_parser, get_airflow_cli_commands

Path_ = tuple[str, ...]


def _declared(entries: Iterable[Command | Group] = COMMANDS, prefix: Path_ = ()) -> dict[Path_, Command]:
    commands: dict[Path_, Command] = {}
    for entry in entries:
        if isinstance(entry, Group):
            commands.update(_declared(entry.commands, (*prefix, entry.name)))
        else:
            commands[(*prefix, entry.name)] = entry
    return commands


def _argparse_commands(parser: argparse.ArgumentParser, prefix: Path_ = ()) -> dict[Path_, Any]:
    """Each leaf command of a parser: its path -> its sub-parser."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return {prefix: parser}
    found: dict[Path_, Any] = {}
    for name, child in subparsers[0].choices.items():
        found.update(_argparse_commands(child, (*prefix, name)))
    return found


def _airflow_commands(entries: Iterable[Any], prefix: Path_ = ()) -> dict[Path_, Any]:
    """Each ``ActionCommand`` under Airflow's objects: its path -> the command."""
    found: dict[Path_, Any] = {}
    for entry in entries:
        if hasattr(entry, "subcommands"):
            found.update(_airflow_commands(entry.subcommands, (*prefix, entry.name)))
        else:
            found[(*prefix, entry.name)] = entry
    return found


def _described(parser: argparse.ArgumentParser) -> list[tuple[Any, ...]]:
    """What a user meets of each argument, as argparse ends up holding it."""
    return [
        (
            tuple(action.option_strings) or (action.dest,),
            action.dest,
            action.help,
            action.default,
            action.choices,
            action.nargs,
            action.metavar,
            type(action).__name__,
        )
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
    ]


def _as_parser(command: Any) -> argparse.ArgumentParser:
    """An Airflow ``ActionCommand``'s arguments added to a parser the way Airflow's CLI adds them."""
    parser = argparse.ArgumentParser()
    for arg in command.args:
        arg.add_to_parser(parser)
    return parser


def test_both_renderings_hold_the_declared_commands_and_arguments():
    declared = _declared()
    argparse_side = _argparse_commands(build_parser())
    [dlt] = get_airflow_cli_commands()
    assert dlt.name == "dlt"
    airflow_side = _airflow_commands(dlt.subcommands)

    assert set(argparse_side) == set(airflow_side) == set(declared)
    assert ("init",) in declared, "`airflow dlt init` exists"
    for path, command in declared.items():
        parser, action = argparse_side[path], airflow_side[path]
        assert _described(parser) == _described(_as_parser(action)), path
        flags = [described[0] for described in _described(parser)]
        assert flags == [argument.flags for argument in command.arguments], path
        assert parser.get_default("handler") is command.handler
        assert action.func.__wrapped__ is command.handler
        assert action.help == command.help and action.description == command.description


def test_groups_keep_their_help_in_both_renderings():
    [dlt] = get_airflow_cli_commands()
    airflow_groups = {entry.name: entry.help for entry in dlt.subcommands if hasattr(entry, "subcommands")}
    declared_groups = {entry.name: entry.help for entry in COMMANDS if isinstance(entry, Group)}
    assert airflow_groups == declared_groups
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    listed = {choice.dest: choice.help for choice in top._choices_actions}
    assert {name: listed[name] for name in declared_groups} == declared_groups


def test_an_error_from_a_handler_leaves_airflow_with_the_same_exit_code(tmp_path, capsys):
    [dlt] = get_airflow_cli_commands()
    init = _airflow_commands(dlt.subcommands)[("init",)]
    args = build_parser().parse_args(["init", str(tmp_path / "missing.py"), "--dags-folder", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        init.func(args)
    assert exit_info.value.code == 2
    assert "airflow-dlt init: error:" in capsys.readouterr().err
