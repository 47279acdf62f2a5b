"""The two operators of ``decompose="mapped"``: discovery at run time and one load per map index.

``DltDiscoverOperator`` calls the factory inside its task and returns the components (see
``runtime/discover.py``); ``DltMappedRunOperator`` is a ``DltRunOperator`` expanded over them
(``.partial(...).expand(component=discover.output)``): each map index loads one component into its own
pipeline ``<pipeline_name>__<component>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_dlt_provider._compat import AssetAlias, BaseOperator
from airflow_dlt_provider.assets import events
from airflow_dlt_provider.assets.uris import alias_name
from airflow_dlt_provider.authoring.decompose.mapped import MappedComponent
from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.operators.run import DltRunOperator

__all__ = ["MAP_INDEX_TEMPLATE", "DltDiscoverOperator", "DltMappedRunOperator"]

MAP_INDEX_TEMPLATE = "{{ task.component_name }}"
"""Names each map index after its component's first resource in the UI (``map_index_template``)."""

_COMPONENT_KEYS = MappedComponent._fields


class DltDiscoverOperator(BaseOperator):
    """Find the components of a source at run time; returns the list a ``DltMappedRunOperator`` expands over.

    Built by ``DltTaskGroup(decompose="mapped")`` as ``<group>.discover``; use it directly to map your own
    tasks over a source's components.

    :param source: a ``@dlt.source`` function, its import string, or a source/resource object.
    :param pipeline_name: the group's pipeline; components get ``<pipeline_name>__<component>``.
    :param source_kwargs: keyword arguments of the factory.
    :param source_conn_ids: ``{factory_argument: conn_id}``; the argument receives dlt credentials built from
        that connection.
    :param resources: restrict discovery to these resource names.
    :param kwargs: passed to ``BaseOperator`` (``task_id``, ``retries``, ...).
    """

    template_fields: Sequence[str] = ("source_kwargs", "source_conn_ids")
    template_fields_renderers = {"source_kwargs": "json", "source_conn_ids": "json"}
    ui_color = "#e4f2f8"

    def __init__(
        self,
        *,
        source: Any,
        pipeline_name: str,
        source_kwargs: Mapping[str, Any] | None = None,
        source_conn_ids: Mapping[str, str] | None = None,
        resources: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._source_spec = resolve_source_spec(source)
        self.source = source
        self.pipeline_name = pipeline_name
        self.source_kwargs = dict(source_kwargs or {})
        self.source_conn_ids = dict(source_conn_ids or {})
        self.resource_names = list(resources) if resources is not None else None

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow_dlt_provider.runtime.discover import check_no_concurrent_run, discover_components

        self._check_one_active_run()
        # another running DAG run of this DAG (a backfill beside the schedule) would load the same components:
        # checked before the factory is called and again after (a run that started in between)
        group_tasks = sorted({self.task_id, *self.downstream_task_ids})

        def check() -> None:
            check_no_concurrent_run(
                context, pipeline_name=self.pipeline_name, discover_task_id=self.task_id, task_ids=group_tasks
            )

        check()
        components = discover_components(
            self._source_spec,
            pipeline_name=self.pipeline_name,
            source_kwargs=self.source_kwargs,
            source_conn_ids=self.source_conn_ids,
            resources=self.resource_names,
        )
        check()
        return components

    def _check_one_active_run(self) -> None:
        """The group checked ``max_active_runs=1`` at parse time; a DAG changed after that fails here, before
        any component loads (the guarantee that keeps two runs off one component rests on it)."""
        dag: Any = getattr(self, "dag", None)
        max_active_runs = getattr(dag, "max_active_runs", 1)
        if max_active_runs != 1:
            from airflow_dlt_provider._compat import airflow_fail_exception

            raise airflow_fail_exception()(
                f"DAG {getattr(dag, 'dag_id', None)!r} has max_active_runs={max_active_runs!r}, but decompose='mapped' needs 1: "
                "two runs could load the same component (pipeline <pipeline_name>__<component>) at once. Set "
                "max_active_runs=1 on the DAG (it was changed after the DltTaskGroup was built)"
            )


def _check_component(component: Any) -> dict[str, Any]:
    if not isinstance(component, Mapping) or any(key not in component for key in _COMPONENT_KEYS):
        raise InvalidArgumentError(
            f"component={component!r} is not accepted; expected a mapping with keys "
            f"{', '.join(_COMPONENT_KEYS)} as DltDiscoverOperator returns"
        )
    return dict(component)


class DltMappedRunOperator(DltRunOperator):
    """``DltRunOperator`` for one component found at run time (one map index of a mapped group).

    :param component: ``{"name", "resources", "pipeline_name"}`` from ``DltDiscoverOperator`` (expanded).
    :param group_pipeline_name: the group's pipeline; asset events go through its alias ``dlt:<name>``, which
        is declared at parse time (the tables are unknown then).
    :param kwargs: the other arguments of ``DltRunOperator`` (and ``BaseOperator``), except
        ``pipeline_name`` and ``resources``, which the component sets.

    The component's pipeline folder is the pipeline's own (pending packages are resumed by the next run and
    kept in ``[dlt] package_store``): one task instance at a time touches it because components are unique
    within a run and the DAG allows one active run (checked when the group is built).
    """

    def __init__(self, *, component: Mapping[str, Any], group_pipeline_name: str, **kwargs: Any) -> None:
        checked = _check_component(component)
        # Airflow 2's partial() passes every BaseOperator default, worker ``resources=None`` among them
        if kwargs.pop("resources", None) is not None or "pipeline_name" in kwargs:
            raise InvalidArgumentError(
                "DltMappedRunOperator takes resources and pipeline_name from its component; do not pass them"
            )
        super().__init__(pipeline_name=checked["pipeline_name"], resources=checked["resources"], **kwargs)
        self.component_name = str(checked["name"])
        self.group_pipeline_name = group_pipeline_name
        if self._declared_assets is not None:
            self._declared_assets = self._through_group_alias(self._declared_assets)

    def _through_group_alias(self, declared: events.DeclaredAssets) -> events.DeclaredAssets:
        alias = AssetAlias(alias_name(self.group_pipeline_name))
        # the mapped task declared only the group's alias at parse time (its tables were unknown then), and
        # Airflow drops events on outlets the parsed task did not declare: every table goes through the alias
        own = declared.outlets
        kept = [outlet for outlet in self.outlets if outlet not in own and outlet != alias]
        self.outlets = [*kept, alias]
        return declared._replace(alias=alias, tables={})

    def _holds_pipeline_pool(self) -> bool:
        return True


def group_alias(pipeline_name: str) -> Any:
    """The alias ``dlt:<pipeline_name>`` a mapped group declares at parse time."""
    return AssetAlias(alias_name(pipeline_name))
