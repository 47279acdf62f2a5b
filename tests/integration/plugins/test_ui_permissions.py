"""``/dlt`` shows only what comes from XComs the caller may read (``DagAccessEntity.XCOM``), Airflow 3.1+.

The plugin's FastAPI app, in-process, behind a real auth manager (Airflow's simple auth manager with one user
who may read the DAG but not its XComs) and real JWTs; the load summary is a dlt task's XCom from ``dag.test()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_dlt_provider._compat import AIRFLOW_V_3_1_PLUS

pytestmark = [
    pytest.mark.skipif(
        not AIRFLOW_V_3_1_PLUS, reason="the /dlt plugin pages need Airflow 3.1+ (fastapi_apps)"
    ),
    pytest.mark.timeout(300),
]

SUFFIX = uuid.uuid4().hex[:8]
DAG_ID = f"ui_perm_{SUFFIX}"
PIPELINE = f"ui_perm_{SUFFIX}"


@pytest.fixture(scope="module")
def loaded(dags_folder, tmp_path_factory) -> str:
    """One DAG run of a dlt task (its load summary is an XCom in the session's metadata DB)."""
    from support.dag_runs import run_dag_file

    database = tmp_path_factory.mktemp("perm") / "perm.duckdb"
    body = f"""
    DltRunOperator(task_id="load", source=shop, resources=["customers"], pipeline_name={PIPELINE!r},
                   destination=dlt.destinations.duckdb({str(database)!r}), dataset_name="perm_raw")
    """
    result = run_dag_file(
        dags_folder, DAG_ID, body, imports="import dlt\nfrom support.sources.task_only import shop"
    )
    assert result.state == "success", result.task_states
    assert result.xcom("load")["pipeline_name"] == PIPELINE
    return DAG_ID


@pytest.fixture(scope="module")
def auth() -> Iterator[Any]:
    """The auth manager the API server would create, configured by environment as a deployment would."""
    from airflow.api_fastapi import app as api_app

    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "support.auth_managers.NoXComAuthManager")
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "reader:viewer,no_xcom:viewer")
    patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", uuid.uuid4().hex * 2)
    previous = api_app._AuthManagerState.instance
    api_app._AuthManagerState.instance = None
    try:
        yield api_app.init_auth_manager()
    finally:
        api_app._AuthManagerState.instance = previous
        patch.undo()


def _client(auth: Any, username: str | None) -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from airflow_dlt_provider.plugins.app import create_app

    headers = {}
    if username is not None:
        headers["Authorization"] = "Bearer " + auth.generate_jwt(
            SimpleAuthManagerUser(username=username, role="viewer")
        )
    return TestClient(create_app(), headers=headers)


def test_a_user_who_may_read_the_dag_but_not_its_xcoms_sees_no_pipeline_of_it(loaded: str, auth: Any) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    no_xcom = SimpleAuthManagerUser(username="no_xcom", role="viewer")
    assert loaded in auth.get_authorized_dag_ids(user=no_xcom, method="GET")  # the DAG itself is readable

    reader = _client(auth, "reader")
    listed = reader.get("/api/pipelines")
    assert listed.status_code == 200
    assert PIPELINE in [p["pipeline_name"] for p in listed.json()["pipelines"]]
    detail = reader.get(f"/api/pipelines/{PIPELINE}")
    assert detail.status_code == 200 and detail.json()["rows"] == {"customers": 3}
    assert PIPELINE in reader.get("/").text
    assert reader.get(f"/pipelines/{PIPELINE}").status_code == 200

    hidden = _client(auth, "no_xcom")
    listed = hidden.get("/api/pipelines")
    assert listed.status_code == 200
    assert PIPELINE not in [p["pipeline_name"] for p in listed.json()["pipelines"]]
    assert hidden.get(f"/api/pipelines/{PIPELINE}").status_code == 404
    assert hidden.get(f"/pipelines/{PIPELINE}").status_code == 404
    page = hidden.get("/")
    assert page.status_code == 200 and PIPELINE not in page.text


def test_no_token_no_pipelines(loaded: str, auth: Any) -> None:
    anonymous = _client(auth, None)
    for path in ("/api/pipelines", f"/api/pipelines/{PIPELINE}", "/", f"/pipelines/{PIPELINE}"):
        assert anonymous.get(path).status_code in (401, 403), path
