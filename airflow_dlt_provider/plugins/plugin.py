"""``DltUiPlugin``: what Airflow loads through the ``airflow.plugins`` entry point.

Importing this module is cheap and works on every supported Airflow: the FastAPI app is built only when the
API server reads ``fastapi_apps`` (Airflow 3.1+). On older Airflow the plugin adds no page (``fastapi_apps`` and
``external_views`` are empty); the "dlt pipeline" extra link then points at the task's XCom.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin  # public, same place on Airflow 2 and 3

from airflow_dlt_provider._compat import AIRFLOW_V_3_1_PLUS

__all__ = ["DltUiPlugin"]

_MOUNT_PATH = "/dlt"  # same as app.MOUNT_PATH, repeated so that this module imports no FastAPI


class _LazyFastApiApps:
    """Class attribute that builds the ``/dlt`` app on first read (only the API server reads it)."""

    def __init__(self) -> None:
        self._apps: list[dict[str, Any]] | None = None

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        if not AIRFLOW_V_3_1_PLUS:
            return []
        if self._apps is None:
            from airflow_dlt_provider.plugins.app import create_app

            self._apps = [{"app": create_app(), "url_prefix": _MOUNT_PATH, "name": "dlt pipelines"}]
        return self._apps


class DltUiPlugin(AirflowPlugin):  # type: ignore[misc]
    """Browse > "dlt pipelines": the pipelines, their tables, rows over runs and schema changes."""

    name = "airflow_dlt_provider"
    fastapi_apps = _LazyFastApiApps()
    external_views = (
        [
            {
                "name": "dlt pipelines",
                "href": f"{_MOUNT_PATH}/",
                "destination": "nav",
                "category": "browse",
                "url_route": "dlt",
            }
        ]
        if AIRFLOW_V_3_1_PLUS
        else []
    )
