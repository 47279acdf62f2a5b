"""The plugin class (what Airflow loads) and the "dlt pipeline" extra link, on Airflow 2 and 3."""

from __future__ import annotations

import pytest

from airflow_dlt_provider import DltRunOperator
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS
from airflow_dlt_provider.plugins.links import dlt_pipeline_link
from airflow_dlt_provider.plugins.plugin import DltUiPlugin
from airflow_dlt_provider.provider_info import get_provider_info


def _ti_key(map_index: int = -1):
    from airflow.models.taskinstancekey import TaskInstanceKey

    return TaskInstanceKey(
        dag_id="my dag", task_id="grp.load", run_id="manual__1", try_number=1, map_index=map_index
    )


def _operator() -> DltRunOperator:
    return DltRunOperator(
        task_id="load",
        source="github_sample_source:github_sample",
        pipeline_name="gh_ui",
        resources=["users"],
    )


def test_every_dlt_task_has_the_dlt_pipeline_link() -> None:
    operator = _operator()
    assert [link.name for link in operator.operator_extra_links] == ["dlt pipeline"]
    assert "airflow_dlt_provider.plugins.links.DltPipelineLink" in get_provider_info()["extra-links"]


def test_link_opens_the_pipeline_page_or_the_xcom_on_airflow_2() -> None:
    operator = _operator()
    link = operator.operator_extra_links[0]
    url = link.get_link(operator, ti_key=_ti_key())
    if AIRFLOW_V_3_1_PLUS:
        assert url == "/dlt/pipelines/gh_ui"
    else:  # no plugin page: the task instance's XCom, where the load summary is
        assert "xcom" in url.lower()
        assert url.startswith("/dags/my%20dag/")
        assert "task_id=grp.load" in url or "/tasks/grp.load/" in url
        assert "manual__1" in url
        mapped = link.get_link(operator, ti_key=_ti_key(map_index=3))
        assert "map_index=3" in mapped or "/mapped/3/" in mapped


def test_link_keeps_the_path_airflow_is_served_under(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://example.org/airflow/")
    monkeypatch.setenv("AIRFLOW__WEBSERVER__BASE_URL", "https://example.org/airflow/")
    url = dlt_pipeline_link("gh ui", _ti_key())
    if AIRFLOW_V_3_1_PLUS:
        assert url == "/airflow/dlt/pipelines/gh%20ui"
    else:
        assert url.startswith("/airflow/dags/my%20dag/")


@pytest.mark.skipif(
    AIRFLOW_V_3_0_PLUS, reason="Airflow 3 computes links in the worker and serves them from XCom"
)
def test_airflow_2_webserver_link_from_the_serialized_dag() -> None:
    """The webserver of Airflow 2 calls the link on the deserialized operator (no ``pipeline_name`` there)."""
    import pendulum
    from airflow import DAG
    from airflow.serialization.serialized_objects import SerializedDAG

    with DAG("my_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        _operator()
    task = SerializedDAG.from_dict(SerializedDAG.to_dict(dag)).get_task("load")
    link = task.operator_extra_link_dict["dlt pipeline"]
    url = link.get_link(task, ti_key=_ti_key())
    assert url.startswith("/dags/my%20dag/grid?") and "tab=xcom" in url  # ti_key names "my dag"


def test_plugin_pages_only_where_airflow_serves_them() -> None:
    if AIRFLOW_V_3_1_PLUS:
        (app,) = DltUiPlugin.fastapi_apps
        assert app["url_prefix"] == "/dlt"
        routes = {route.path for route in app["app"].routes}
        assert {
            "/",
            "/api/pipelines",
            "/api/pipelines/{pipeline_name:path}",
            "/pipelines/{pipeline_name:path}",
        } <= routes
        (view,) = DltUiPlugin.external_views
        assert view["category"] == "browse" and view["href"] == "/dlt/" and view["name"] == "dlt pipelines"
    else:
        assert DltUiPlugin.fastapi_apps == [] and DltUiPlugin.external_views == []


def test_plugin_module_imports_no_fastapi_and_no_dlt() -> None:
    import subprocess
    import sys

    code = (
        "import sys, airflow_dlt_provider.plugins.plugin, airflow_dlt_provider.plugins.links; "
        "print(sorted(m for m in ('fastapi', 'dlt', 'airflow_dlt_provider.plugins.app') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
