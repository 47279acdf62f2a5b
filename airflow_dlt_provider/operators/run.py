"""``DltRunOperator``: the Airflow face of one dlt pipeline run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_dlt_provider._compat import BaseOperator
from airflow_dlt_provider.assets import events
from airflow_dlt_provider.assets.uris import destination_target
from airflow_dlt_provider.authoring.arguments import (
    DEFAULT_PROGRESS_PERIOD_SECONDS,
    check_expect_rows,
    check_on_schema_change,
    check_progress_period,
    check_run_kwargs,
    fold_expect_rows_action,
)
from airflow_dlt_provider.authoring.deprecations import warn_about_usage
from airflow_dlt_provider.authoring.names import MAX_DERIVED_PIPELINE_NAME_BYTES, check_pipeline_name
from airflow_dlt_provider.authoring.sources import (
    check_object_resource_names,
    check_source_arguments,
    resolve_source_spec,
)
from airflow_dlt_provider.exceptions import InvalidArgumentError, UnprotectedPipelineWarning
from airflow_dlt_provider.operators.task_doc import destination_label, task_doc_md
from airflow_dlt_provider.plugins.links import DltPipelineLink
from airflow_dlt_provider.pools.names import AUTO_POOL, _AutoPool, pool_name_for, resolve_pool

if TYPE_CHECKING:
    from airflow_dlt_provider.assets.locations import RunDetails
    from airflow_dlt_provider.authoring.vocabulary import Alert, OnSchemaChange, RunKwargs

__all__ = ["DltRunOperator", "unprotected_pool_message"]


def unprotected_pool_message(pipeline_name: str) -> str:
    """What ``pool=None`` gives up, for the ``UnprotectedPipelineWarning``."""
    return (
        f"pool=None: the tasks of pipeline {pipeline_name!r} run in Airflow's default pool, so Airflow no longer "
        "queues them behind each other (in one DAG run, across DAG runs, across DAGs); a task that meets another "
        "holder of the pipeline's state waits up to [dlt] holder_wait_seconds and then fails (retryably). Leave "
        f"pool out for the one-slot pool {pool_name_for(pipeline_name)!r}, or name a pool of your own; keep "
        "pool=None only where the DAG runs one task of the pipeline at a time by itself (max_active_runs=1 and "
        "decompose='serialize' or 'none')"
    )


def _normalise_resources(resources: str | Sequence[str] | None) -> list[str] | None:
    if resources is None:
        return None
    if isinstance(resources, str):
        return [resources]
    names = list(resources)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidArgumentError(f"resources={resources!r} must be a non-empty list of resource names")
    return names


class DltRunOperator(BaseOperator):
    """Run a dlt source (or some of its resources) as one pipeline run.

    :param source: a ``DltSource``, a ``DltResource``, a factory returning one (a ``@dlt.source``
        function) or an import string ``"package.module:attribute"``.
    :param pipeline_name: the dlt pipeline; its state is only touched under the pool ``dlt_<pipeline_name>``.
    :param source_kwargs: keyword arguments for the factory.
    :param resources: names of the resources to load (default: the source's selected resources). Read back
        as the attribute ``resource_names`` (``BaseOperator.resources`` is Airflow's worker resources).
    :param destination: a dlt destination name or factory. Default: inferred from ``destination_conn_id``,
        else a DuckDB file under ``$AIRFLOW_HOME/dlt/duckdb``.
    :param destination_conn_id: Airflow connection holding the destination credentials.
    :param dataset_name: destination dataset (schema).
    :param source_conn_ids: ``{factory_argument: conn_id}``; the argument receives dlt credentials built from
        that connection when the task runs.
    :param run_kwargs: passed to ``pipeline.run`` (``write_disposition``, ``loader_file_format``,
        ``schema_contract``, ``refresh``, ...; the ``RunKwargs`` type), checked when the task is built.
    :param emit_assets: emit one Airflow asset event per loaded table (see ``airflow_dlt_provider.assets``):
        tables known at parse time are outlets, the others arrive through the alias ``dlt:<pipeline_name>``.
    :param on_schema_change: ``"warn"`` (default: load, log new tables/columns at WARNING), ``"ignore"``
        (load, log at INFO) or ``"fail"`` (a new table or column under a resource that already has tables
        fails the task with ``SchemaChangeError`` before anything is loaded; the first tables of this task's
        resources are expected, also when other tasks of the pipeline loaded before). See
        ``airflow_dlt_provider.runtime.schema_guard``. A callable or an Airflow notifier (``BaseNotifier``)
        loads like ``"warn"`` and is then called with the schema changes: ``callable(alert, context)``, or
        ``notifier(context)`` with ``context["dlt_alert"]`` (see ``airflow_dlt_provider.runtime.alerts``).
    :param expect_rows: rows per table and run, ``{"orders": (1, None)}`` (min, max; ``None`` unbounded) or
        ``{"orders": (1, None, "fail")}`` with the action of that table (or ``RowExpectation(1, None,
        "fail")``): ``"warn"`` (default: a WARNING log line), ``"fail"`` (the task fails after the load with
        ``RowExpectationError`` as the cause: the rows stay loaded) or an alert (callable or notifier, called
        like ``on_schema_change``'s). Reported in the summary under ``row_expectations``.
    :param expect_rows_action: deprecated: the action of every ``expect_rows`` entry that names none; write
        the action in each entry instead.
    :param pool: default ``dlt_<pipeline_name>``; ``None`` for Airflow's default pool (Airflow then no longer
        queues the pipeline's tasks behind each other: an ``UnprotectedPipelineWarning`` says so); any string
        is used as given.
    :param progress_period_seconds: how often the task writes a progress line (dlt's log collector: rows and
        steps so far) to its log; default 30.
    :param worker_resources: Airflow's worker resources of the task (``{"cpus": 1, "ram": 1024}``; executors
        that read them, such as Kubernetes), passed to ``BaseOperator`` as its ``resources``, which here name
        the dlt resources to load. On a group: ``default_args={"worker_resources": {...}}``.
    :param kwargs: passed to ``BaseOperator`` (``task_id``, ``retries``, ``execution_timeout``, ...).

    Returns (XCom) the JSON load summary: rows per table, load ids, schema changes, times.
    """

    template_fields: Sequence[str] = (
        "source_kwargs",
        "dataset_name",
        "destination_conn_id",
        "source_conn_ids",
    )
    template_fields_renderers = {"source_kwargs": "json", "source_conn_ids": "json"}
    ui_color = "#c5e8f7"
    # "dlt pipeline": the plugin page /dlt/pipelines/<name> (Airflow 3.1+), the task's XCom on Airflow 2
    operator_extra_links = (DltPipelineLink(),)

    def __init__(
        self,
        *,
        source: Any,
        pipeline_name: str,
        source_kwargs: Mapping[str, Any] | None = None,
        resources: str | Sequence[str] | None = None,
        destination: Any = None,
        destination_conn_id: str | None = None,
        dataset_name: str | None = None,
        source_conn_ids: Mapping[str, str] | None = None,
        run_kwargs: RunKwargs | Mapping[str, Any] | None = None,
        emit_assets: bool = True,
        on_schema_change: OnSchemaChange | Alert = "warn",
        expect_rows: Mapping[str, Sequence[Any]] | None = None,
        expect_rows_action: Any = None,
        pool: str | None | _AutoPool = AUTO_POOL,
        progress_period_seconds: float = DEFAULT_PROGRESS_PERIOD_SECONDS,
        worker_resources: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        check_pipeline_name(pipeline_name, max_bytes=MAX_DERIVED_PIPELINE_NAME_BYTES)
        if pool is None and not getattr(kwargs.get("task_group"), "_warns_about_unprotected_pool", False):
            warn_about_usage(unprotected_pool_message(pipeline_name), UnprotectedPipelineWarning)
        resolved_pool = resolve_pool(pool, pipeline_name)
        if resolved_pool is not None:
            kwargs["pool"] = resolved_pool
        super().__init__(resources=worker_resources, **kwargs)
        self._source_spec = resolve_source_spec(source)
        self.source = source
        self.pipeline_name = pipeline_name
        # ``resources`` is taken by BaseOperator (worker resources), hence another attribute name
        self.resource_names = _normalise_resources(resources)
        self.source_kwargs = dict(source_kwargs or {})
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.dataset_name = dataset_name
        self.source_conn_ids = dict(source_conn_ids or {})
        self.run_kwargs = check_run_kwargs(run_kwargs)
        self.emit_assets = emit_assets
        self.progress_period_seconds = check_progress_period(progress_period_seconds)
        check_source_arguments(self._source_spec, self.source_kwargs, self.source_conn_ids)
        check_object_resource_names(self._source_spec, self.resource_names)
        self.on_schema_change = check_on_schema_change(on_schema_change)
        self.expect_rows = check_expect_rows(fold_expect_rows_action(expect_rows, expect_rows_action))
        self._declared_assets = self._declare_assets() if emit_assets else None
        if not self.doc_md:
            self.doc_md = task_doc_md(self, self._declared_assets)
        self._last_run: tuple[dict[str, Any], RunDetails] | None = None

    def _declare_assets(self) -> events.DeclaredAssets:
        declared = events.declare(
            source_spec=self._source_spec, resource_names=self.resource_names, **self._where_rows_go()
        )
        self.outlets = [*(getattr(self, "outlets", None) or []), *declared.outlets]
        return declared

    def _where_rows_go(self) -> dict[str, Any]:
        """The pipeline and destination arguments that the declared assets and the run share."""
        return {
            "pipeline_name": self.pipeline_name,
            "destination": self.destination,
            "destination_conn_id": self.destination_conn_id,
            "dataset_name": self.dataset_name,
        }

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_dlt_provider.assets.locations import RunDetails
        from airflow_dlt_provider.runtime import alerts, pipeline_run

        self.log.info(  # the task's first line: which connection (its id, never its content)
            "dlt pipeline %r, destination connection %r (destination %s), pool %r",
            self.pipeline_name,
            self.destination_conn_id,
            destination_label(self.destination, self.destination_conn_id),
            self.pool,
        )
        request = pipeline_run.RunRequest(
            source=self._source_spec,
            source_kwargs=self.source_kwargs,
            resources=self.resource_names,
            source_conn_ids=self.source_conn_ids,
            **self._where_rows_go(),
            run_kwargs=self.run_kwargs,
            progress_period_seconds=self.progress_period_seconds,
            on_schema_change=self.on_schema_change,
            expect_rows=self.expect_rows,
            holds_pipeline_pool=self._holds_pipeline_pool(),
            details=RunDetails(),
        )
        summary = pipeline_run.run(request, context)
        self._last_run = (summary, request.details)
        if self._declared_assets is not None:
            self._emit_asset_events(context, summary, request.details)
        if any(e["status"] != "ok" and e["action"] == "fail" for e in summary["row_expectations"].values()):
            context["ti"].xcom_push(key="return_value", value=summary)  # the summary of what was loaded
            alerts.raise_on_failed_expectations(summary)
        return summary

    def _holds_pipeline_pool(self) -> bool:
        """Whether no other task instance touches this pipeline meanwhile (its own folder and store are used)."""
        return bool(self.pool == pool_name_for(self.pipeline_name))

    def _emit_asset_events(self, context: Any, summary: dict[str, Any], details: RunDetails) -> None:
        assert self._declared_assets is not None
        target = destination_target(self.destination_conn_id, self.destination, self.pipeline_name)
        uris = events.emit_asset_events(
            context["outlet_events"], summary, self._declared_assets, target, details.location
        )
        self.log.info("asset events for %d table(s): %s", len(summary.get("rows") or {}), ", ".join(uris))
        unknown = sorted(t for t in self._declared_assets.tables if t not in details.schema_tables)
        if unknown and details.schema_tables:
            self.log.warning(
                "declared asset(s) for table(s) %s, named after their resources, match no table of the "
                "pipeline's schema (a resource with a table_name of its own?): Airflow records an event for "
                "them all the same; the tables this run loaded reached Airflow through the alias %r",
                ", ".join(unknown),
                self._declared_assets.alias.name,
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage output datasets, one per loaded table with its columns (needs the OpenLineage provider)."""
        from airflow_dlt_provider.assets.lineage import operator_lineage

        summary, details = self._last_run if self._last_run is not None else (None, None)
        target = destination_target(self.destination_conn_id, self.destination, self.pipeline_name)
        return operator_lineage(summary, details, target)
