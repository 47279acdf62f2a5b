"""The FastAPI app mounted at ``/dlt`` in Airflow's API server: JSON API and HTML pages, behind Airflow's auth.

Routes only: the data comes from :mod:`.read` (through :mod:`.queries`), the HTML from :mod:`.render`. Every
route depends on the DAGs whose XComs the caller may read (Airflow's auth manager: DAG read and
``DagAccessEntity.XCOM``, as Airflow's own XCom endpoints): no valid token -> 401/403, and a pipeline of a DAG
whose XComs the caller may not read is not listed and not found.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from airflow_dlt_provider.plugins import read, render
from airflow_dlt_provider.plugins.queries import readable_dag_ids_dependency

__all__ = ["MOUNT_PATH", "create_app"]

MOUNT_PATH = "/dlt"


def _links(request: Request) -> render.Links:
    """Page URLs from where the app is mounted (``root_path``: ``<Airflow base path>/dlt``)."""
    dlt_root = str(request.scope.get("root_path") or MOUNT_PATH).rstrip("/")
    airflow_root = dlt_root[: -len(MOUNT_PATH)] if dlt_root.endswith(MOUNT_PATH) else ""
    return render.Links(dlt_root=dlt_root, airflow_root=airflow_root)


def _detail_or_404(dag_ids: set[str], pipeline_name: str) -> read.PipelineDetail:
    detail = read.pipeline_detail(read.fetch_summaries(dag_ids), pipeline_name)
    if detail is None:
        raise HTTPException(
            status_code=404,
            detail=f"no recorded run of a dlt pipeline named {pipeline_name!r} in a DAG you may read; "
            "GET /dlt/api/pipelines lists the pipelines that have runs",
        )
    return detail


def create_app() -> FastAPI:
    """The ``/dlt`` sub-application (built by the API server when it loads the plugin)."""
    readable = Depends(readable_dag_ids_dependency())
    app = FastAPI(
        title="dlt pipelines",
        description="dlt pipelines run by Airflow: tables, rows per run, schema changes (airflow-dlt-provider)",
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/api/pipelines")
    def list_pipelines(dag_ids: set[str] = readable) -> dict[str, Any]:
        overviews = read.pipelines(read.fetch_summaries(dag_ids))
        return {"pipelines": [o.as_json() for o in overviews], "total_entries": len(overviews)}

    @app.get("/api/pipelines/{pipeline_name:path}")
    def get_pipeline(pipeline_name: str, dag_ids: set[str] = readable) -> dict[str, Any]:
        return _detail_or_404(dag_ids, pipeline_name).as_json()

    @app.get("/", response_class=HTMLResponse)
    def pipelines_page(request: Request, dag_ids: set[str] = readable) -> HTMLResponse:
        overviews = read.pipelines(read.fetch_summaries(dag_ids))
        return HTMLResponse(render.pipelines_page(overviews, _links(request)))

    @app.get("/pipelines/{pipeline_name:path}", response_class=HTMLResponse)
    def pipeline_page(request: Request, pipeline_name: str, dag_ids: set[str] = readable) -> HTMLResponse:
        detail = _detail_or_404(dag_ids, pipeline_name)
        return HTMLResponse(render.pipeline_page(detail, _links(request)))

    return app
