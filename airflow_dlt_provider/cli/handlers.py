"""What the commands of :mod:`.commands` do: one handler each, taking the parsed arguments and returning
the exit code.

``pools sync|export`` and ``check`` parse a DAGs folder; ``init`` scaffolds a DAG (:mod:`airflow_dlt_provider.
scaffold`). Each imports what it needs when it runs, so that declaring the commands stays cheap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

# ---------------------------------------------------------------- pools


def pools_sync(args: argparse.Namespace) -> int:
    """Create the missing pools of the DAGs folder's dlt tasks; existing pools are left alone."""
    from airflow_dlt_provider.pools.sync import parse_dags_folder, pools_needed, sync_pools

    dags, errors = parse_dags_folder(args.dags_folder)
    _print_import_errors(errors, sys.stderr)
    needs = pools_needed(dags)
    fix = bool(args.fix)
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


def _print_import_errors(errors: dict[str, str], out: TextIO) -> None:
    for path, error in sorted(errors.items()):
        print(
            f"warning: DAG file {path} failed to import, its pools are unknown: {_last_line(error)}", file=out
        )


def _last_line(error: str) -> str:
    """The last line of an import error's traceback: the exception itself."""
    return error.strip().splitlines()[-1] if error.strip() else error


def _slots(count: int) -> str:
    return f"{count} slot{'s' if count != 1 else ''}"


# ---------------------------------------------------------------- check


def check(args: argparse.Namespace) -> int:
    """Import each dlt task's source and check its resource names; 1 when something is wrong."""
    from airflow_dlt_provider.authoring.full_check import check_dlt_tasks
    from airflow_dlt_provider.pools.sync import parse_dags_folder

    dags, errors = parse_dags_folder(args.dags_folder)
    for path, error in sorted(errors.items()):
        print(f"error     DAG file {path} failed to import: {_last_line(error)}")
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


# ---------------------------------------------------------------- init


def init(args: argparse.Namespace) -> int:
    """Scaffold a DAG from a pipeline script: 0 on success, 2 with a message on stderr when the script cannot
    be used."""
    from airflow_dlt_provider.exceptions import ScaffoldError
    from airflow_dlt_provider.scaffold.decide import plan_scaffold
    from airflow_dlt_provider.scaffold.write import write_scaffold

    try:
        plan = plan_scaffold(
            args.pipeline_script,
            args.dags_folder or _default_dags_folder(),
            source=args.source,
            dag_id=args.dag_id,
            schedule=args.schedule,
            conn_id=args.conn_id,
        )
        text = write_scaffold(plan, force=args.force)
    except ScaffoldError as err:
        print(f"airflow-dlt init: error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _default_dags_folder() -> str:
    """Airflow's ``[core] dags_folder`` (airflow.cfg or ``AIRFLOW__CORE__DAGS_FOLDER``), the folder the other
    commands parse and the scheduler reads; Airflow's own default is ``$AIRFLOW_HOME/dags``."""
    from airflow_dlt_provider import _compat

    configured = _compat.conf_get("core", "dags_folder")
    return os.path.expanduser(configured or os.path.join(_compat.airflow_home(), "dags"))
