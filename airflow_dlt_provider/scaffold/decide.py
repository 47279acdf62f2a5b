"""Decide the DAG ``airflow-dlt init`` writes, from what the script declares; pure, nothing is written."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from airflow_dlt_provider.exceptions import ScaffoldError
from airflow_dlt_provider.pools.names import pool_name_for
from airflow_dlt_provider.scaffold.read import DltFunction, PipelineCall, PipelineScript, read_pipeline_script

# dlt destination -> (extra of this package, Airflow conn type, default conn id, example URI)
DESTINATIONS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "duckdb": ("duckdb", None, None, None),
    "motherduck": ("motherduck", "motherduck", "motherduck_default", None),
    "postgres": ("postgres", "postgres", "postgres_default", "postgres://USER:PASSWORD@HOST:5432/DATABASE"),
    "redshift": ("redshift", "redshift", "redshift_default", "redshift://USER:PASSWORD@HOST:5439/DATABASE"),
    "snowflake": (
        "snowflake",
        "snowflake",
        "snowflake_default",
        "snowflake://USER:PASSWORD@/SCHEMA?account=ACCOUNT&database=DATABASE&warehouse=WAREHOUSE&role=ROLE",
    ),
    "bigquery": (
        "bigquery",
        "google_cloud_platform",
        "google_cloud_default",
        "google-cloud-platform://?project=PROJECT&key_path=/path/to/service-account.json",
    ),
    "mssql": ("mssql", "mssql", "mssql_default", "mssql://USER:PASSWORD@HOST:1433/DATABASE"),
    "databricks": ("databricks", "databricks", "databricks_default", None),
    "clickhouse": ("clickhouse", "clickhouse", "clickhouse_default", None),
    "athena": ("athena", "aws", "aws_default", None),
    "filesystem": ("filesystem", None, None, None),
}


@dataclass(frozen=True)
class ScaffoldPlan:
    """Everything ``airflow-dlt init`` writes and prints, decided before anything is written."""

    script: PipelineScript
    target: DltFunction
    module: str
    """Import path of the script as seen from the DAGs folder (``pipelines.github``)."""
    copy_script_to: Path | None
    """Where the script is copied (when it lives outside the DAGs folder); ``None``: used in place."""
    dag_path: Path
    dag_id: str
    group_id: str
    pipeline_name: str
    destination: str
    dataset_name: str
    conn_id: str | None
    schedule: str
    notes: list[str] = field(default_factory=list)

    @property
    def source_import(self) -> str:
        return f"{self.module}:{self.target.function_name}"

    @property
    def pool(self) -> str:
        return pool_name_for(self.pipeline_name)


def _choose_target(script: PipelineScript, source: str | None) -> DltFunction:
    loadable = [f for f in script.functions if f.kind in {"source", "resource"}]
    if source is not None:
        chosen = script.function(source)
        if chosen is None or chosen.kind == "transformer":
            accepted = ", ".join(f.function_name for f in loadable) or "none"
            raise ScaffoldError(
                f"--source {source!r} is not a @dlt.source or @dlt.resource function of {script.path}; "
                f"found: {accepted}"
            )
        return chosen
    for run in script.runs:
        chosen = script.function(run.target)
        if chosen is not None and chosen.kind != "transformer":
            return chosen
    if script.sources:
        return script.sources[0]
    if script.resources:
        return script.resources[0]
    raise ScaffoldError(
        f"{script.path} defines no @dlt.source or @dlt.resource function at module level; "
        "airflow-dlt init needs one to build the DAG from"
    )


def _choose_pipeline(script: PipelineScript, target: DltFunction) -> PipelineCall | None:
    """The pipeline that runs ``target``: same variable in the same function, else same function, else the first."""
    runs = [run for run in script.runs if run.target == target.function_name]
    for run in runs:
        for call in script.pipelines:
            if call.line == run.pipeline_line or (
                run.receiver is not None and call.variable == run.receiver and call.scope == run.scope
            ):
                return call
    scopes = {run.scope for run in runs}
    for call in script.pipelines:
        if call.scope in scopes:
            return call
    return script.pipelines[0] if script.pipelines else None


def _module_path(script: Path, dags_folder: Path) -> tuple[str, Path | None]:
    """Import path of the script from the DAGs folder and where to copy it (``None``: already inside)."""
    script = script.resolve()
    try:
        relative = script.relative_to(dags_folder.resolve())
        copy_to = None
    except ValueError:
        relative = Path(script.name)
        copy_to = dags_folder / script.name
    parts = [*relative.parent.parts, relative.stem]
    bad = [p for p in parts if not p.isidentifier() or keyword.iskeyword(p)]
    if bad:
        raise ScaffoldError(
            f"{script} cannot be imported as a module from the DAGs folder: {'/'.join(bad)!r} is not a valid "
            "Python identifier; rename it (letters, digits and underscores, not starting with a digit)"
        )
    return ".".join(parts), copy_to


def _identifier(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", value).strip("_") or "dlt"
    return cleaned


def plan_scaffold(
    script_path: str | Path,
    dags_folder: str | Path,
    *,
    source: str | None = None,
    dag_id: str | None = None,
    schedule: str = "@daily",
    conn_id: str | None = None,
) -> ScaffoldPlan:
    """Read the script and decide the DAG; nothing is written."""
    script = read_pipeline_script(script_path)
    folder = Path(dags_folder)
    target = _choose_target(script, source)
    call = _choose_pipeline(script, target)
    notes: list[str] = []
    if call is None:
        notes.append(
            "no dlt.pipeline(...) call found: pipeline_name, destination and dataset_name are defaults"
        )
    elif len(script.pipelines) > 1:
        where = f" (in {call.scope})" if call.scope else ""
        notes.append(
            f"{len(script.pipelines)} dlt.pipeline(...) calls found; used the one on line {call.line}{where}"
        )
    others = [f.function_name for f in script.sources if f is not target]
    if others and source is None:
        notes.append(f"other sources in the script: {', '.join(others)} (choose one with --source)")
    stem = _identifier(script.path.stem)
    pipeline_name = (call.pipeline_name if call else None) or f"dlt_{stem}"
    destination = (call.destination if call else None) or "duckdb"
    dataset_name = (call.dataset_name if call else None) or f"{pipeline_name}_dataset"
    module, copy_to = _module_path(script.path, folder)
    final_dag_id = dag_id or f"dlt_{_identifier(pipeline_name)}"
    # a script inside the DAGs folder gets its DAG next to it; otherwise both go to the folder's top
    dag_path = (folder if copy_to is not None else script.path.parent) / f"{stem}_dag.py"
    if dag_path.resolve() == script.path.resolve():
        raise ScaffoldError(f"the DAG file {dag_path} would overwrite the pipeline script; rename the script")
    default_conn = DESTINATIONS.get(destination, (None, None, None, None))[2]
    return ScaffoldPlan(
        script=script,
        target=target,
        module=module,
        copy_script_to=copy_to,
        dag_path=dag_path,
        dag_id=final_dag_id,
        group_id=_identifier(target.name),
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=dataset_name,
        conn_id=conn_id or default_conn,
        schedule=schedule,
        notes=notes,
    )
