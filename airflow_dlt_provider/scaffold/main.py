"""``airflow-dlt init``: turn an existing dlt pipeline script into an Airflow DAG that uses ``DltTaskGroup``.

The script is read with :mod:`ast` and never executed: importing a pipeline script may open connections
or even run the pipeline. What is read: the ``@dlt.source`` / ``@dlt.resource`` functions defined at module
level, the ``dlt.pipeline(...)`` call (``pipeline_name``, ``destination``, ``dataset_name``) and which
source ``pipeline.run(...)`` loads. What is written: a DAG file in the DAGs folder (and the script itself when
it lives outside the DAGs folder, so that workers can import it). What is printed: the requirement lines for
Cloud Composer, Astronomer and MWAA, the pools to create and the connection to define.

Imports neither Airflow nor dlt.
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from airflow_dlt_provider.exceptions import ScaffoldError
from airflow_dlt_provider.pools.names import pool_name_for

DLT_DECORATORS = ("source", "resource", "transformer")
"""``dlt`` decorators whose functions can be loaded (transformers only together with their parent)."""

PACKAGE_NAME = "airflow-dlt-provider"

# dlt destination -> (extra of this package, Airflow conn type, default conn id, example URI)
_DESTINATIONS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
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
class DltFunction:
    """A module-level function decorated with ``@dlt.source``, ``@dlt.resource`` or ``@dlt.transformer``."""

    function_name: str
    kind: str
    """``source``, ``resource`` or ``transformer``."""
    name: str
    """The dlt name (``name=`` of the decorator, else the function name)."""
    secret_args: tuple[str, ...] = ()
    """Arguments defaulting to ``dlt.secrets.value`` (dlt resolves them from its config providers)."""
    line: int = 0


@dataclass(frozen=True)
class PipelineCall:
    """Literal arguments of one ``dlt.pipeline(...)`` call (``None`` when absent or not a literal)."""

    pipeline_name: str | None
    destination: str | None
    dataset_name: str | None
    scope: str | None
    """Name of the function that contains the call (``None``: module level)."""
    line: int
    variable: str | None = None
    """The name the pipeline is assigned to (``pipeline = dlt.pipeline(...)``)."""


@dataclass(frozen=True)
class RunCall:
    """``<pipeline>.run(<function>(...))``: which function it loads and through which pipeline."""

    scope: str | None
    target: str
    receiver: str | None
    """The variable ``run`` is called on (``pipeline``), ``None`` for ``dlt.pipeline(...).run(...)``."""
    pipeline_line: int | None = None
    """Line of the ``dlt.pipeline(...)`` call when ``run`` is chained onto it."""


@dataclass(frozen=True)
class PipelineScript:
    """What a dlt pipeline script declares, read without running it."""

    path: Path
    functions: tuple[DltFunction, ...]
    pipelines: tuple[PipelineCall, ...]
    runs: tuple[RunCall, ...] = ()

    @property
    def sources(self) -> list[DltFunction]:
        return [f for f in self.functions if f.kind == "source"]

    @property
    def resources(self) -> list[DltFunction]:
        return [f for f in self.functions if f.kind == "resource"]

    def function(self, name: str) -> DltFunction | None:
        return next((f for f in self.functions if f.function_name == name), None)


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


# ---------------------------------------------------------------- reading the script


class _DltNames:
    """How the script refers to dlt: ``import dlt [as d]``, ``from dlt import source [as s]``."""

    def __init__(self, tree: ast.Module) -> None:
        self.modules: set[str] = set()
        self.functions: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "dlt":
                        self.modules.add(alias.asname or "dlt")
            elif isinstance(node, ast.ImportFrom) and node.module == "dlt":
                for alias in node.names:
                    self.functions[alias.asname or alias.name] = alias.name

    def resolve(self, node: ast.expr) -> str | None:
        """``"source"`` for ``dlt.source`` / ``source`` (imported from dlt); ``None`` otherwise."""
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.attr if node.value.id in self.modules else None
        if isinstance(node, ast.Name):
            return self.functions.get(node.id)
        return None

    def is_secret_value(self, node: ast.expr | None) -> bool:
        """``dlt.secrets.value`` (or ``secrets.value`` imported from dlt)."""
        if not (isinstance(node, ast.Attribute) and node.attr == "value"):
            return False
        owner = node.value
        if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name):
            return owner.attr == "secrets" and owner.value.id in self.modules
        return isinstance(owner, ast.Name) and self.functions.get(owner.id) == "secrets"


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _destination_name(node: ast.expr | None) -> str | None:
    """``"duckdb"``, ``dlt.destinations.duckdb(...)`` / ``duckdb(...)`` -> ``"duckdb"``."""
    literal = _literal_str(node)
    if literal is not None:
        return literal.split(".")[-1]
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _secret_args(function: ast.FunctionDef | ast.AsyncFunctionDef, names: _DltNames) -> tuple[str, ...]:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = [*zip(positional, defaults, strict=True), *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return tuple(arg.arg for arg, default in pairs if names.is_secret_value(default))


def _dlt_function(function: ast.FunctionDef | ast.AsyncFunctionDef, names: _DltNames) -> DltFunction | None:
    for decorator in function.decorator_list:
        kind = names.resolve(decorator)
        if kind not in DLT_DECORATORS:
            continue
        dlt_name = None
        if isinstance(decorator, ast.Call):
            dlt_name = _literal_str(_keyword(decorator, "name"))
        return DltFunction(
            function_name=function.name,
            kind=kind,
            name=dlt_name or function.name,
            secret_args=_secret_args(function, names),
            line=function.lineno,
        )
    return None


def _calls_with_scope(tree: ast.Module) -> Iterator[tuple[str | None, ast.Call]]:
    """Every call of the module with the name of the outermost function that contains it."""

    def visit(node: ast.AST, scope: str | None) -> Iterator[tuple[str | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            child_scope = scope
            if scope is None and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                child_scope = child.name
            if isinstance(child, ast.Call):
                yield scope, child
            yield from visit(child, child_scope)

    yield from visit(tree, None)


def _run_target(call: ast.Call) -> str | None:
    """``p.run(github_source(...))`` / ``p.run(github_source)`` / ``p.run(github_source().with_resources(...))``."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in {"run", "extract"} and call.args):
        return None
    node: ast.expr = call.args[0]
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            break
    return node.id if isinstance(node, ast.Name) else None


def read_pipeline_script(path: str | Path) -> PipelineScript:
    """Parse ``path`` (never import it) and return what it declares."""
    script = Path(path)
    if not script.is_file():
        raise ScaffoldError(f"pipeline script {str(script)!r} does not exist (expected a .py file)")
    if script.suffix != ".py":
        raise ScaffoldError(f"pipeline script {str(script)!r} is not a Python file (expected a .py file)")
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except SyntaxError as err:
        raise ScaffoldError(
            f"pipeline script {str(script)!r} has a syntax error on line {err.lineno}: {err.msg}"
        ) from err
    names = _DltNames(tree)
    functions = tuple(
        found
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (found := _dlt_function(node, names)) is not None
    )
    assigned = {
        id(node.value): node.targets[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    pipelines: list[PipelineCall] = []
    runs: list[RunCall] = []
    for scope, call in _calls_with_scope(tree):
        if names.resolve(call.func) == "pipeline" and not isinstance(call.func, ast.Call):
            pipelines.append(
                PipelineCall(
                    pipeline_name=_literal_str(_keyword(call, "pipeline_name", 0)),
                    destination=_destination_name(_keyword(call, "destination", 3)),
                    dataset_name=_literal_str(_keyword(call, "dataset_name", 5)),
                    scope=scope,
                    line=call.lineno,
                    variable=assigned.get(id(call)),
                )
            )
        elif (target := _run_target(call)) is not None:
            assert isinstance(call.func, ast.Attribute)  # checked by _run_target
            owner = call.func.value
            receiver = owner.id if isinstance(owner, ast.Name) else None
            chained = (
                owner.lineno
                if isinstance(owner, ast.Call) and names.resolve(owner.func) == "pipeline"
                else None
            )
            runs.append(RunCall(scope=scope, target=target, receiver=receiver, pipeline_line=chained))
    return PipelineScript(path=script, functions=functions, pipelines=tuple(pipelines), runs=tuple(runs))


# ---------------------------------------------------------------- deciding what to write


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
    default_conn = _DESTINATIONS.get(destination, (None, None, None, None))[2]
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


# ---------------------------------------------------------------- rendering


DAG_TEMPLATE = '''\
"""Load the dlt {kind} ``{target}`` of ``{script_name}`` with Airflow.

Generated by ``airflow-dlt init``. Each group of resources that must run together becomes one task. Every
task of the pipeline holds the one-slot pool ``{pool}``, so the pipeline state is never touched by two
tasks at once. Create the pool before the first run, with ``airflow-dlt pools sync`` or
``airflow pools set {pool} 1 "dlt pipeline {pipeline_name}"``: a task whose pool does not exist is
never scheduled.
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10 / 2.11
    from airflow import DAG

from airflow_dlt_provider import DltTaskGroup

with DAG(
    dag_id={dag_id},
    schedule={schedule},
    start_date=pendulum.datetime({year}, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["dlt"],
    doc_md=__doc__,
):
    DltTaskGroup(
        group_id={group_id},
        source={source_import},
        pipeline_name={quoted_pipeline_name},
{destination_lines}        dataset_name={dataset_name},
        decompose="serialize",
        operator_kwargs={{"retries": 2, "retry_delay": pendulum.duration(minutes=5)}},
    )
'''


def _py(value: str) -> str:
    """A Python string literal in double quotes (the style ruff format writes)."""
    return json.dumps(value)


def render_dag(plan: ScaffoldPlan, year: int | None = None) -> str:
    """The DAG file's text (``start_date``: January 1st of ``year``, default this year)."""
    if plan.conn_id:
        destination_lines = f"        destination={_py(plan.destination)},\n        destination_conn_id={_py(plan.conn_id)},\n"
    else:
        destination_lines = f"        destination={_py(plan.destination)},\n"
    return DAG_TEMPLATE.format(
        kind=plan.target.kind,
        target=plan.target.function_name,
        script_name=plan.script.path.name,
        pool=plan.pool,
        pipeline_name=plan.pipeline_name,
        dag_id=_py(plan.dag_id),
        schedule="None" if plan.schedule.lower() in {"none", ""} else _py(plan.schedule),
        year=year or date.today().year,
        group_id=_py(plan.group_id),
        source_import=_py(plan.source_import),
        quoted_pipeline_name=_py(plan.pipeline_name),
        destination_lines=destination_lines,
        dataset_name=_py(plan.dataset_name),
    )


def requirement_line(destination: str, version: str) -> str:
    """``airflow-dlt-provider[postgres]==0.1.0`` (no extra for destinations without one)."""
    extra = _DESTINATIONS.get(destination, (None,))[0]
    suffix = f"[{extra}]" if extra else ""
    return f"{PACKAGE_NAME}{suffix}=={version}"


def instructions(plan: ScaffoldPlan, version: str) -> str:
    """What to install, which pools to create and which connection to define, per platform."""
    requirement = requirement_line(plan.destination, version)
    pool = plan.pool
    lines = [f"Wrote {plan.dag_path}"]
    if plan.copy_script_to is not None:
        lines.append(
            f"Copied {plan.script.path.name} to {plan.copy_script_to} (the DAG imports {plan.module!r})"
        )
    lines += [
        f"  DAG {plan.dag_id!r}: DltTaskGroup {plan.group_id!r} loads {plan.source_import} "
        f"into {plan.destination} dataset {plan.dataset_name!r} (pipeline {plan.pipeline_name!r})",
        *(f"  note: {note}" for note in plan.notes),
        "",
        "Requirements (deploy the pipeline script next to the DAG, in the DAGs folder):",
        f"  Cloud Composer : add PyPI package  {requirement}",
        f'                   gcloud composer environments update ENV --location REGION --update-pypi-package "{requirement}"',
        f"  Astronomer     : requirements.txt  {requirement}",
        "  MWAA           : requirements.txt, constraints line first:",
        '                   --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-AIRFLOW_VERSION/constraints-PYTHON_VERSION.txt"',
        f"                   {requirement}",
        "  Constraints: each platform installs on top of its own pinned Airflow; if pip reports a conflict with",
        "  the constraints, pin a dlt release whose dependencies fit them instead of loosening the constraints.",
        "",
        "Pools (one slot: the pipeline's tasks never run at the same time; without the pool no task is scheduled):",
        f'  airflow pools set {pool} 1 "dlt pipeline {plan.pipeline_name}"',
        "  or: airflow-dlt pools sync   (creates every dlt pool the DAGs folder needs)",
        "  Composer: gcloud composer environments run ENV --location REGION pools -- set "
        f'{pool} 1 "dlt pipeline {plan.pipeline_name}"',
        "  Astronomer / MWAA: Admin > Pools in the Airflow UI (or airflow_settings.yaml with the Astro CLI)",
        "",
    ]
    lines += _connection_lines(plan)
    secrets = plan.target.secret_args
    if secrets:
        section = plan.module.split(".")[-1]
        lines += [
            "",
            f"Secrets of {plan.target.function_name} (dlt.secrets.value), resolved by dlt on the worker:",
        ]
        for arg in secrets:
            env = f"SOURCES__{section}__{plan.target.name}__{arg}".upper()
            lines.append(f"  {arg}: environment variable {env} (or a secrets backend that sets it)")
        lines.append("  do not copy .dlt/secrets.toml into the DAGs folder")
    return "\n".join(lines) + "\n"


def _connection_lines(plan: ScaffoldPlan) -> list[str]:
    _, conn_type, _, example = _DESTINATIONS.get(plan.destination, (None, None, None, None))
    if plan.conn_id is None:
        if plan.destination == "duckdb":
            return [
                "Connection: none needed: DuckDB loads into a file under $AIRFLOW_HOME/dlt/duckdb on the worker.",
                "  For a warehouse, set destination_conn_id in the DAG (see the connection reference).",
            ]
        return [
            f"Connection: define one for destination {plan.destination!r} and pass its id as "
            "destination_conn_id (see the connection reference for the accepted types)."
        ]
    env_name = f"AIRFLOW_CONN_{re.sub(r'[^A-Za-z0-9]', '_', plan.conn_id).upper()}"
    lines = [f"Connection {plan.conn_id!r} (conn type {conn_type or 'see the connection reference'}):"]
    if example:
        lines.append(f"  {env_name}='{example}'")
    lines.append("  or define it in the UI (Admin > Connections) or in a secrets backend")
    return lines


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


# ---------------------------------------------------------------- the `airflow-dlt init` subcommand


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
