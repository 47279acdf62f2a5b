"""The "dlt pipeline" operator extra link of every dlt task (imported by the operator: keep it cheap)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_dlt_provider import _compat
from airflow_dlt_provider._compat import BaseOperatorLink

__all__ = ["DltPipelineLink", "dlt_pipeline_link"]


class DltPipelineLink(BaseOperatorLink):  # type: ignore[misc]
    """Opens ``/dlt/pipelines/<pipeline_name>`` (Airflow 3.1+); on Airflow 2 the task's XCom (the summary)."""

    name: ClassVar[str] = "dlt pipeline"  # type: ignore[misc]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Airflow 2's webserver asks the *serialized* operator, which has no pipeline_name (its link needs none)
        return dlt_pipeline_link(str(getattr(operator, "pipeline_name", "")), ti_key)


def dlt_pipeline_link(pipeline_name: str, ti_key: Any) -> str:
    """Where the "dlt pipeline" extra link of a dlt task points.

    Airflow 3.1+: the plugin page ``/dlt/pipelines/<pipeline_name>``. Airflow 2 (and 3.0) have no plugin page:
    the task instance's XCom, which holds the load summary (Airflow 2's grid ``tab=xcom``; 3.0's task page).
    """
    from urllib.parse import quote, urlencode

    base = _api_base_path()
    if _compat.AIRFLOW_V_3_1_PLUS:
        return f"{base}/dlt/pipelines/{quote(pipeline_name, safe='')}"
    if _compat.AIRFLOW_V_3_0_PLUS:
        dag, run, task = (
            quote(str(part), safe="") for part in (ti_key.dag_id, ti_key.run_id, ti_key.task_id)
        )
        mapped = f"/mapped/{ti_key.map_index}" if ti_key.map_index >= 0 else ""
        return f"{base}/dags/{dag}/runs/{run}/tasks/{task}{mapped}/xcom"
    query = {"dag_run_id": ti_key.run_id, "task_id": ti_key.task_id, "tab": "xcom"}
    if ti_key.map_index >= 0:
        query["map_index"] = str(ti_key.map_index)
    return f"{base}/dags/{quote(str(ti_key.dag_id), safe='')}/grid?{urlencode(query)}"


def _api_base_path() -> str:
    """The path part of ``[api] base_url`` (``""`` when Airflow is served at the root)."""
    from urllib.parse import urlsplit

    return urlsplit(_compat.conf_get("api", "base_url", fallback="") or "").path.rstrip("/")
