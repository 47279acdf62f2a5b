"""``airflow-dlt init``: turn an existing dlt pipeline script into an Airflow DAG that uses ``DltTaskGroup``.

The script is read with :mod:`ast` and never executed: importing a pipeline script may open connections
or even run the pipeline. What is read: the ``@dlt.source`` / ``@dlt.resource`` functions defined at module
level, the ``dlt.pipeline(...)`` call (``pipeline_name``, ``destination``, ``dataset_name``) and which
source ``pipeline.run(...)`` loads. What is written: a DAG file in the DAGs folder (and the script itself when
it lives outside the DAGs folder, so that workers can import it). What is printed: the requirement lines for
Cloud Composer, Astronomer and MWAA, the pools to create and the connection to define.

Reading is :mod:`.read`, deciding :mod:`.decide`, the text :mod:`.render`; this module writes the files and
registers the subcommand. Imports neither Airflow nor dlt.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from airflow_dlt_provider.exceptions import ScaffoldError
from airflow_dlt_provider.scaffold.decide import ScaffoldPlan, plan_scaffold
from airflow_dlt_provider.scaffold.render import instructions, render_dag


def scaffold(
    script_path: str | Path,
    dags_folder: str | Path,
    *,
    source: str | None = None,
    dag_id: str | None = None,
    schedule: str = "@daily",
    conn_id: str | None = None,
    force: bool = False,
) -> tuple[ScaffoldPlan, str]:
    """Write the DAG (and copy the script when needed); return the plan and the text to print."""
    from airflow_dlt_provider import __version__

    plan = plan_scaffold(
        script_path, dags_folder, source=source, dag_id=dag_id, schedule=schedule, conn_id=conn_id
    )
    if plan.dag_path.exists() and not force:
        raise ScaffoldError(f"{plan.dag_path} already exists; pass --force to overwrite it")
    copy_to = plan.copy_script_to
    if (
        copy_to is not None
        and copy_to.exists()
        and copy_to.read_bytes() != plan.script.path.read_bytes()
        and not force
    ):
        raise ScaffoldError(f"{copy_to} already exists with other content; pass --force to overwrite it")
    plan.dag_path.parent.mkdir(parents=True, exist_ok=True)
    if copy_to is not None:
        shutil.copyfile(plan.script.path, copy_to)
    plan.dag_path.write_text(render_dag(plan), encoding="utf-8")
    return plan, instructions(plan, __version__)


def _default_dags_folder() -> str:
    """``AIRFLOW__CORE__DAGS_FOLDER``, else ``$AIRFLOW_HOME/dags`` (read without importing Airflow)."""
    import os

    configured = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if configured:
        return configured
    return os.path.join(os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow"), "dags")


def register_init(subparsers: Any) -> None:
    """Register ``airflow-dlt init`` on the subparsers of the ``airflow-dlt`` command."""
    parser = subparsers.add_parser(
        "init",
        help="write an Airflow DAG (DltTaskGroup) for an existing dlt pipeline script",
        description=(
            "Read a dlt pipeline script (never run it), write a DAG that loads its source with DltTaskGroup, "
            "and print the requirements for Cloud Composer, Astronomer and MWAA, the pools to create and the "
            "connection to define."
        ),
    )
    parser.add_argument("pipeline_script", metavar="PIPELINE_SCRIPT", help="the dlt pipeline script (.py)")
    parser.add_argument(
        "--dags-folder",
        default=None,
        help="where to write the DAG (default: AIRFLOW__CORE__DAGS_FOLDER, else $AIRFLOW_HOME/dags)",
    )
    parser.add_argument("--source", default=None, help="the @dlt.source/@dlt.resource function to load")
    parser.add_argument("--dag-id", default=None, help="DAG id (default: dlt_<pipeline_name>)")
    parser.add_argument("--schedule", default="@daily", help="DAG schedule, or 'none' (default: @daily)")
    parser.add_argument("--conn-id", default=None, help="destination connection id (default per destination)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing DAG file")
    parser.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Run ``airflow-dlt init``: 0 on success, 2 with a message on stderr when the script cannot be used."""
    import sys

    try:
        _, text = scaffold(
            args.pipeline_script,
            args.dags_folder or _default_dags_folder(),
            source=args.source,
            dag_id=args.dag_id,
            schedule=args.schedule,
            conn_id=args.conn_id,
            force=args.force,
        )
    except ScaffoldError as err:
        print(f"airflow-dlt init: error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
