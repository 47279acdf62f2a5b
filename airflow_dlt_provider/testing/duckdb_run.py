"""Run a DAG's dlt tasks against a temporary DuckDB and read back what they loaded.

Every ``DltRunOperator`` of the DAG (the tasks of each ``DltTaskGroup``) is pointed at the embedded DuckDB
default for the duration of the run (its ``destination``/``destination_conn_id`` are put back afterwards),
and the provider's base folder (``[dlt] base_dir``: working directories, DuckDB files) is a folder the
caller chooses, e.g. pytest's ``tmp_path``. Nothing here is imported when the package is imported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_dlt_provider import settings
from airflow_dlt_provider.testing.dagrun import DagTestResult, load_dag, run_dag

BASE_DIR_ENV = settings.env_var("base_dir")


def dataset_row_counts(path: Path, dataset: str) -> dict[str, int]:
    """Rows per table of ``dataset`` in the DuckDB file ``path`` (dlt's own ``_dlt_*`` tables left out)."""
    import duckdb

    from airflow_dlt_provider.runtime.summary import is_dlt_table

    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [dataset]
        ).fetchall()
        return {
            table: int(con.execute(f'SELECT count(*) FROM "{dataset}"."{table}"').fetchone()[0])  # type: ignore[index]
            for (table,) in tables
            if not is_dlt_table(table)
        }


@dataclass
class DuckDBRunResult:
    """Outcome of :func:`run_with_duckdb`: the DAG run, the load summaries and the DuckDB files.

    :param run: the DAG run's outcome (``state``, ``task_states``, XComs).
    :param base_dir: the folder of the run's DuckDB files.
    """

    run: DagTestResult
    base_dir: Path

    @property
    def state(self) -> str:
        return self.run.state

    @property
    def task_states(self) -> dict[str, str]:
        return self.run.task_states

    def summaries(self) -> dict[str, Any]:
        """Load summary (XCom) of every successful task, by task id."""
        return self.run.summaries()

    def duckdb_path(self, pipeline_name: str) -> Path:
        """The DuckDB file of ``pipeline_name`` in this run's base folder.

        :param pipeline_name: the pipeline (the ``pipeline_name`` of a task, ``<name>__<task>`` when isolated).
        """
        from airflow_dlt_provider.runtime.workdir import default_duckdb_path

        with _base_dir(self.base_dir):
            return default_duckdb_path(pipeline_name)

    def row_counts(self) -> dict[str, int]:
        """Rows per table in the DuckDB files the run wrote (dlt's own ``_dlt_*`` tables left out).

        Tables are named ``<dataset>.<table>`` when the run loaded more than one dataset.
        """
        targets = {
            (s["pipeline_name"], s["dataset_name"]) for s in self.summaries().values() if isinstance(s, dict)
        }
        qualify = len({dataset for _, dataset in targets}) > 1
        counts: dict[str, int] = {}
        for pipeline_name, dataset in sorted(targets):
            path = self.duckdb_path(pipeline_name)
            if not path.exists():
                continue
            for table, count in dataset_row_counts(path, dataset).items():
                key = f"{dataset}.{table}" if qualify else table
                counts[key] = counts.get(key, 0) + count
        return counts


@contextlib.contextmanager
def _base_dir(path: Path) -> Iterator[None]:
    previous = os.environ.get(BASE_DIR_ENV)
    os.environ[BASE_DIR_ENV] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BASE_DIR_ENV, None)
        else:
            os.environ[BASE_DIR_ENV] = previous


@contextlib.contextmanager
def _duckdb_destinations(dag: Any) -> Iterator[list[str]]:
    """Point every ``DltRunOperator`` of ``dag`` at the DuckDB default; put the old values back after."""
    from airflow_dlt_provider.operators.run import DltRunOperator

    saved = []
    for task in dag.tasks:
        if isinstance(task, DltRunOperator):
            saved.append((task, task.destination, task.destination_conn_id))
            task.destination = "duckdb"
            task.destination_conn_id = None
    mapped = [
        task for task in dag.tasks if _is_mapped_dlt_task(task)
    ]  # decompose="mapped": its partial kwargs
    saved_partial = [(task, dict(task.partial_kwargs)) for task in mapped]
    for task in mapped:
        task.partial_kwargs.update(destination="duckdb", destination_conn_id=None)
    try:
        yield [task.task_id for task, _, _ in saved] + [task.task_id for task in mapped]
    finally:
        for task, destination, conn_id in saved:
            task.destination = destination
            task.destination_conn_id = conn_id
        for task, partial_kwargs in saved_partial:
            task.partial_kwargs.clear()
            task.partial_kwargs.update(partial_kwargs)


def _is_mapped_dlt_task(task: Any) -> bool:
    from airflow_dlt_provider.operators.run import DltRunOperator

    if isinstance(task, DltRunOperator) or not hasattr(task, "partial_kwargs"):  # a plain task: no map
        return False
    operator_class = getattr(task, "operator_class", None)
    return isinstance(operator_class, type) and issubclass(operator_class, DltRunOperator)


def run_with_duckdb(
    dag: Any,
    base_dir: str | Path,
    *,
    dag_id: str | None = None,
    logical_date: datetime | None = None,
    **test_kwargs: Any,
) -> DuckDBRunResult:
    """Run ``dag`` once with ``dag.test()``, its dlt tasks loading into DuckDB files under ``base_dir``.

    ``dag`` is a DAG object or the path of a DAG file (then ``dag_id`` names the DAG in it). On Airflow 3.3
    ``dag.test()`` only runs DAGs whose file is in the configured DAGs folder.

    :param dag: a DAG object, or the path of a DAG file.
    :param base_dir: the folder for the DuckDB files and the pipelines' working dirs.
    :param dag_id: the DAG to run when ``dag`` is a path.
    :param logical_date: the run's logical date (default: now).
    :param test_kwargs: passed to ``dag.test()`` (``run_conf``, ...).
    """
    if not hasattr(dag, "task_dict"):
        if dag_id is None:
            raise ValueError(f"dag={dag!r} is a path, so dag_id is needed to pick the DAG in it")
        dag = load_dag(dag, dag_id)
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    with _base_dir(base), _duckdb_destinations(dag) as dlt_tasks:
        if not dlt_tasks:
            raise ValueError(
                f"DAG {dag.dag_id!r} has no DltRunOperator task (DltTaskGroup) to run against DuckDB"
            )
        result = run_dag(dag, logical_date=logical_date, **test_kwargs)
    return DuckDBRunResult(run=result, base_dir=base)
