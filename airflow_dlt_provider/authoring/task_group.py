"""``DltTaskGroup``: a dlt source as Airflow tasks, one per group of resources that must run together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_dlt_provider import _compat
from airflow_dlt_provider._compat import BaseOperator, TaskGroup
from airflow_dlt_provider.authoring.arguments import (
    DEFAULT_PROGRESS_PERIOD_SECONDS,
    check_expect_rows,
    check_on_schema_change,
    check_parse_cache,
    check_progress_period,
    check_refresh_for_group,
    check_run_kwargs,
    fold_expect_rows_action,
)
from airflow_dlt_provider.authoring.decompose import strategy_for
from airflow_dlt_provider.authoring.decompose.base import DecomposeStrategy, GroupArguments
from airflow_dlt_provider.authoring.deprecations import warn_about_usage, warn_deprecated
from airflow_dlt_provider.authoring.names import check_pipeline_name
from airflow_dlt_provider.authoring.plan import (
    Plan,
    check_unique_resources,
    flatten_resource_names,
    resource_items_valid,
)
from airflow_dlt_provider.authoring.sources import (
    SourceSpec,
    check_resource_names,
    instantiate_source,
    resolve_source_spec,
)
from airflow_dlt_provider.exceptions import (
    InvalidArgumentError,
    SourceResolutionError,
    UnprotectedPipelineWarning,
)
from airflow_dlt_provider.operators.run import unprotected_pool_message
from airflow_dlt_provider.pools.names import AUTO_POOL, _AutoPool

if TYPE_CHECKING:
    from airflow_dlt_provider.authoring.vocabulary import (
        Alert,
        Decompose,
        OnSchemaChange,
        ParseCache,
        RunKwargs,
    )

__all__ = ["DltTaskGroup"]

# arguments the group sets on every task itself; operator_kwargs may not override them
_GROUP_OWNED_ARGUMENTS = frozenset(
    {
        "task_id",
        "source",
        "pipeline_name",
        "source_kwargs",
        "resources",
        "destination",
        "destination_conn_id",
        "dataset_name",
        "source_conn_ids",
        "run_kwargs",
        "emit_assets",
        "on_schema_change",
        "expect_rows",
        "expect_rows_action",
        "progress_period_seconds",
        "pool",
        "task_group",
        "dag",
    }
)


class DltTaskGroup(TaskGroup):
    """Run a dlt source as a group of ``DltRunOperator`` tasks.

    Each *component* (a resource together with every transformer it feeds, transitively) becomes one task,
    so every resource is extracted once. ``decompose`` decides how components become tasks:

    - ``"none"``: one task for the whole source; its id is the source name.
    - ``"serialize"`` (default): one task per component, chained in the order the source declares them.
    - ``"independent"`` (formerly ``"parallel"``, which still works with a deprecation warning): one task per
      component; the first runs first (it creates the dataset and dlt's own tables), the others depend only on
      it, so a failed one does not block the rest. They share the pipeline and its state, so they share the
      one-slot pool ``dlt_<pipeline_name>``: **they never run at the same time**, in one DAG run, across DAG
      runs or across DAGs. The mode is for clarity in the UI and per-resource retries.
    - ``"parallel-isolated"``: like ``independent``, but each component gets its own pipeline
      ``<pipeline_name>__<task>`` and its own pool ``dlt_<pipeline_name>__<task>``, so they do run side by
      side (state, schema and working dir are separate; they load into the same dataset). With the default
      DuckDB destination each isolated pipeline writes its own DuckDB file
      (``$AIRFLOW_HOME/dlt/duckdb/<pipeline_name>__<task>.duckdb``, see ``runtime.default_duckdb_path``), as a
      DuckDB file takes one writer at a time; use a shared destination (``destination_conn_id``) to get the
      tables in one place.
    - ``"mapped"``: the factory is never called at parse time; ``<group>.discover`` finds the components when
      it runs (rendered ``source_kwargs``, ``source_conn_ids`` credentials) and ``<group>.load`` is mapped over
      them, one map index per component (named after its first resource), each into its own pipeline
      ``<pipeline_name>__<component>``, at most ``max_parallel`` at once, in the pool
      ``dlt_<pipeline_name>__mapped``. The DAG must have ``max_active_runs=1`` (checked here): with unique
      components per run, that keeps every component's pipeline to one task instance at a time.

    Task ids inside the group are the first resource of each component (the source name for ``none``),
    reduced to ``[A-Za-z0-9_.-]`` and at most 250 characters with the ``<group_id>.`` prefix; names that had
    to be changed get a stable ``_<hash>`` suffix, so ids stay unique and the same on every parse.

    The graph of the source is needed for the components: a source object is read as it is, a factory is
    called at parse time with ``source_kwargs`` (un-rendered) unless ``resources`` is given. With
    ``resources`` and a factory, each name is its own task; group resources connected through transformers
    with a nested list: ``resources=["users", ["issues", "comments"]]``. Unknown names fail at parse time when
    the graph is known (listing the available resources), otherwise when the task runs.

    Arguments for every task of the group (``retries``, ``execution_timeout``, ``queue``, callbacks,
    ``worker_resources``, ...) go in ``default_args``, as for any ``TaskGroup``.

    :param group_id: the id of the group (unique in the DAG).
    :param source: a ``DltSource``, a ``DltResource``, a ``@dlt.source`` function or ``"module:attribute"``.
    :param pipeline_name: the dlt pipeline (and the default pool ``dlt_<pipeline_name>``).
    :param source_kwargs: keyword arguments of the factory.
    :param resources: resource names to load (a subset); the factory is then not called at parse time. A
        nested list groups resources that run in one task: ``["users", ["issues", "comments"]]``.
    :param destination: dlt destination name or factory; default from ``destination_conn_id``, else DuckDB.
    :param destination_conn_id: Airflow connection with the destination credentials.
    :param dataset_name: destination dataset (schema).
    :param source_conn_ids: ``{factory_argument: conn_id}``; the argument receives dlt credentials built from
        that connection when the task runs.
    :param decompose: how components become tasks: ``"none"``, ``"serialize"`` (default), ``"independent"``,
        ``"parallel-isolated"`` or ``"mapped"`` (see above and the ``Decompose`` type).
    :param pool: default ``dlt_<pipeline_name>`` (one slot; run ``airflow-dlt pools sync`` to create it);
        ``None`` for Airflow's default pool: Airflow then no longer queues the pipeline's tasks behind each
        other (an ``UnprotectedPipelineWarning`` says so); any string is used as given.
    :param run_kwargs: passed to ``pipeline.run`` (``write_disposition``, ``loader_file_format``,
        ``schema_contract``, ``refresh``, ...; the ``RunKwargs`` type), checked at parse time.
    :param emit_assets: emit one Airflow asset event per loaded table.
    :param on_schema_change: ``"warn"`` (default), ``"ignore"``, ``"fail"``, or a callable / Airflow notifier
        called with the schema changes; passed to every task (see ``DltRunOperator``).
    :param expect_rows: ``{table: (min, max)}`` or ``{table: (min, max, action)}`` (or ``RowExpectation``):
        rows per table and run (``None`` unbounded; action ``"warn"`` by default, ``"fail"`` or an alert).
        Each task checks the tables of its own resources (see ``DltRunOperator``).
    :param expect_rows_action: deprecated: the action of every ``expect_rows`` entry that names none; write
        the action in each entry instead.
    :param progress_period_seconds: how often each task writes a progress line (dlt's log collector: rows and
        steps so far) to its log; default 30.
    :param operator_kwargs: deprecated: pass ``default_args`` (``TaskGroup``'s own argument) instead.
    :param parse_cache: ``None`` (default: the factory is called on every parse), ``"variable"`` or
        ``"file"``: keep the graph of a slow factory between parses in an Airflow Variable
        ``dlt_parse_cache__<dag_id>__<group_id>`` or in ``.dlt_parse_cache/`` beside the DAG file, keyed by
        the factory, a hash of ``source_kwargs`` and the code's version (see ``parse_cache.py``). Opt-in:
        ``"variable"`` reads a Variable on every parse, ``"file"`` writes beside the DAG file. Not for
        ``decompose="mapped"`` (it calls nothing at parse time).
    :param max_parallel: ``decompose="mapped"`` only: how many components load at once (default 4); the
        mapped task's ``max_active_tis_per_dagrun`` and the slots ``airflow-dlt pools sync`` gives its pool.
    :param task_group_kwargs: passed to ``TaskGroup`` (``default_args``, ``tooltip``, ``prefix_group_id``, ...).

    Attribute ``tasks_by_resource`` maps each resource name to its task (empty for ``decompose="none"``
    with a factory and no ``resources``: the factory is not called then; for ``mapped``, the names given in
    ``resources`` map to the ``load`` task); ``plan`` holds the plan.
    """

    # the group warns once about pool=None; its tasks do not repeat it (DltRunOperator reads this)
    _warns_about_unprotected_pool = True

    def __init__(
        self,
        group_id: str,
        *,
        source: Any,
        pipeline_name: str,
        source_kwargs: Mapping[str, Any] | None = None,
        resources: Sequence[str | Sequence[str]] | str | None = None,
        destination: Any = None,
        destination_conn_id: str | None = None,
        dataset_name: str | None = None,
        source_conn_ids: Mapping[str, str] | None = None,
        decompose: Decompose = "serialize",
        pool: str | None | _AutoPool = AUTO_POOL,
        run_kwargs: RunKwargs | Mapping[str, Any] | None = None,
        emit_assets: bool = True,
        on_schema_change: OnSchemaChange | Alert = "warn",
        expect_rows: Mapping[str, Sequence[Any]] | None = None,
        expect_rows_action: Any = None,
        progress_period_seconds: float = DEFAULT_PROGRESS_PERIOD_SECONDS,
        operator_kwargs: Mapping[str, Any] | None = None,
        parse_cache: ParseCache | None = None,
        max_parallel: int | None = None,
        **task_group_kwargs: Any,
    ) -> None:
        # validate everything before the group is added to the DAG
        strategy = strategy_for(decompose)  # an old mode name warns; the strategy is the new one's
        check_on_schema_change(on_schema_change)
        expect_rows = fold_expect_rows_action(expect_rows, expect_rows_action)
        check_expect_rows(expect_rows)
        check_progress_period(progress_period_seconds)
        check_pipeline_name(pipeline_name)
        run_kwargs = check_run_kwargs(run_kwargs)
        resource_items = _normalise_resources(resources)
        task_kwargs = _per_task_arguments(operator_kwargs, pool, task_group_kwargs)
        spec = resolve_source_spec(source)
        if pool is None and not strategy.guards_state_without_pool:
            warn_about_usage(unprotected_pool_message(pipeline_name), UnprotectedPipelineWarning)
        # the DltRunOperator arguments every task of the group shares, whatever the mode
        run_arguments = {
            "source": source,
            "source_kwargs": source_kwargs,
            "destination": destination,
            "destination_conn_id": destination_conn_id,
            "dataset_name": dataset_name,
            "source_conn_ids": source_conn_ids,
            "run_kwargs": run_kwargs,
            "emit_assets": emit_assets,
            "on_schema_change": on_schema_change,
            "expect_rows": expect_rows,
            "progress_period_seconds": progress_period_seconds,
        }
        args = GroupArguments(
            group_id,
            pipeline_name,
            spec,
            resource_items,
            pool,
            parse_cache,
            max_parallel,
            run_arguments,
            task_kwargs,
            task_group_kwargs,
        )
        strategy.check(args)
        graph = _read_graph(strategy, args)

        _init_task_group(self, group_id, task_group_kwargs)

        self.source = source
        self.pipeline_name = pipeline_name
        self.decompose: str = strategy.mode
        self.plan: Plan = strategy.plan(args, graph, group_prefix=self.child_id(""))
        check_refresh_for_group(run_kwargs, len(self.plan.tasks), strategy.mode)
        self.tasks_by_resource: dict[str, BaseOperator] = strategy.build(self, self.plan, args, graph)


def _init_task_group(group: DltTaskGroup, group_id: str, task_group_kwargs: dict[str, Any]) -> None:
    """``TaskGroup.__init__`` with a clearer message when the group id is taken."""
    duplicate = _compat.duplicate_task_id_error()
    try:
        TaskGroup.__init__(group, group_id=group_id, **task_group_kwargs)
    except duplicate as error:
        dag = task_group_kwargs.get("dag")
        where = f" of DAG {dag.dag_id!r}" if dag is not None else ""
        raise duplicate(
            f"DltTaskGroup group_id={group_id!r} is already used by another task or task group{where}; "
            f"give each DltTaskGroup its own group_id ({error})"
        ) from error


def _normalise_resources(resources: Any) -> list[str | Sequence[str]] | None:
    if resources is None:
        return None
    if isinstance(resources, str):
        resources = [resources]
    if not resource_items_valid(resources):
        raise InvalidArgumentError(
            f"resources={resources!r} must be a non-empty list of resource names "
            "(or of lists of names that run in one task)"
        )
    items: list[str | Sequence[str]] = [item if isinstance(item, str) else tuple(item) for item in resources]
    check_unique_resources(items)
    return items


def _per_task_arguments(
    operator_kwargs: Mapping[str, Any] | None, pool: Any, task_group_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The deprecated ``operator_kwargs`` (still passed to every task, as before), after the checks that also
    apply to the group's ``default_args`` (the one way to pass per-task arguments)."""
    kwargs = dict(operator_kwargs or {})
    owned = sorted(set(kwargs) & _GROUP_OWNED_ARGUMENTS)
    if owned:
        raise InvalidArgumentError(
            f"operator_kwargs may not set {', '.join(owned)}: DltTaskGroup sets them on every task; "
            "pass them to DltTaskGroup itself"
        )
    default_args = task_group_kwargs.get("default_args") or {}
    for where, given in (("operator_kwargs", kwargs), ("default_args", default_args)):
        if isinstance(pool, _AutoPool) and given.get("pool_slots", 1) != 1:
            raise InvalidArgumentError(
                f"{where} pool_slots={given['pool_slots']!r} is not accepted with the automatic one-slot "
                "pool dlt_<pipeline_name> (a task needing more slots than the pool has is never scheduled); "
                "pass pool='<your pool>' to use pool_slots"
            )
    if operator_kwargs is not None:
        warn_deprecated(
            "DltTaskGroup(operator_kwargs=...) is deprecated and will be removed in the next minor release: "
            f"pass default_args={kwargs!r} instead (TaskGroup's own argument; Airflow applies it to every "
            "task of the group)"
        )
    return kwargs


def _read_graph(strategy: DecomposeStrategy, args: GroupArguments) -> Any:
    """The source graph the strategy plans from, or ``None`` when it goes by names (or finds it at run time)."""
    if not strategy.reads_graph:
        return None
    cache = _cache_location(check_parse_cache(args.parse_cache), args.group_id, args.task_group_kwargs)
    source_kwargs = args.run_arguments["source_kwargs"]
    return _source_graph(args.spec, args.resources, strategy.calls_factory, source_kwargs, cache)


def _source_graph(
    spec: SourceSpec,
    resources: list[str | Sequence[str]] | None,
    calls_factory: bool,
    source_kwargs: Mapping[str, Any] | None,
    cache: dict[str, Any] | None = None,
) -> Any:
    """The source object whose graph the plan reads, or ``None`` when the plan goes by names only.

    A factory is called only when the graph is needed: a mode that ``calls_factory`` and no ``resources``;
    with a parse ``cache`` its graph may come from the store instead (a ``SourceGraph``).
    """
    if spec.is_factory:
        if resources is not None or not calls_factory:
            return None
        if cache is not None:
            from airflow_dlt_provider.authoring.parse_cache import cached_graph

            return cached_graph(
                spec=spec,
                source_kwargs=source_kwargs,
                compute=lambda: _call_factory(spec, source_kwargs),
                **cache,
            )
        graph = _call_factory(spec, source_kwargs)
    else:
        graph = _as_source(spec.target)
    if resources is not None:
        names = flatten_resource_names(resources)
        check_resource_names(names, graph.resources, graph.name)
    return graph


def _call_factory(spec: SourceSpec, source_kwargs: Mapping[str, Any] | None) -> Any:
    from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups

    try:
        with airflow_variable_lookups(secrets_toml=False):  # parse time: no Variable lookups
            return instantiate_source(spec, source_kwargs)
    except SourceResolutionError:
        raise
    except Exception as error:
        raise SourceResolutionError(
            f"calling source {spec.display_name!r} at parse time to find its resources failed "
            f"({type(error).__name__}: {error}); pass resources=[...] to plan without calling it"
        ) from error


def _cache_location(
    parse_cache: str | None, group_id: str, task_group_kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Where the parse cache of this group lives (mode, DAG id, DAG file), or ``None`` without a cache."""
    if parse_cache is None:
        return None
    dag = _compat.current_dag(task_group_kwargs.get("dag"))
    if dag is None:
        return None
    return {
        "mode": parse_cache,
        "dag_id": dag.dag_id,
        "group_id": group_id,
        "dag_file": getattr(dag, "fileloc", None),
    }


def _as_source(target: Any) -> Any:
    """A ``DltSource`` for a source or resource object (a resource is wrapped, not copied)."""
    from dlt.sources import DltSource

    if isinstance(target, DltSource):
        return target
    import dlt

    return DltSource(dlt.Schema(target.name), target.section or target.name, [target])
