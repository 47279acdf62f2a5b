"""The /dlt UI plugin in a real ``airflow api-server`` and a real browser (headless Chromium).

Two DAG runs of a three-task ``DltTaskGroup`` (one pipeline) are made with ``dag.test()`` on the session's
metadata DB; the second loads more rows and adds a column (a schema change). An ``airflow api-server`` on the
same DB then serves the plugin: the JSON endpoints must hold the runs' figures, the pages must show them in
Chromium. Screenshots go to ``tests/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from support import EXAMPLES_DIR, TESTS_DIR
from support.browser import CHROMIUM_ARGS, BrowserUnavailable, ensure_chromium
from support.postgres import free_port

from airflow_dlt_provider._compat import AIRFLOW_V_3_1_PLUS

pytestmark = [
    pytest.mark.scheduler,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not AIRFLOW_V_3_1_PLUS, reason="the /dlt plugin pages need Airflow 3.1+ (fastapi_apps)"
    ),
]

ARTIFACTS = TESTS_DIR / "artifacts"
DAG_ID = "dlt_ui_shop"
PIPELINE = "ui_shop"
TASKS = ("customers", "products", "orders")
USER, PASSWORD = "ui_viewer", uuid.uuid4().hex
DAG_FILE = f"""
import pendulum
from airflow.sdk import DAG
from airflow_dlt_provider import DltTaskGroup
from support.sources.schema_changes import shop

with DAG({DAG_ID!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         render_template_as_native_obj=True):
    DltTaskGroup(
        group_id="shop",
        source=shop,
        source_kwargs={{"rows": "{{{{ dag_run.conf.get('rows', 3) }}}}",
                        "order_note": "{{{{ dag_run.conf.get('order_note', False) }}}}"}},
        pipeline_name={PIPELINE!r},
        dataset_name="ui_shop_raw",
        decompose="serialize",
    )
"""


@pytest.fixture(scope="module")
def two_runs(dags_folder: Path) -> list[str]:
    """Run the DAG twice: 3 rows per table, then 5 with a new ``orders.note`` column. Returns the run ids."""
    from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

    path = dags_folder / f"{DAG_ID}.py"
    path.write_text(DAG_FILE)
    dag = load_dag(path, DAG_ID)
    run_ids = []
    for day, conf in ((1, {"rows": 3}), (2, {"rows": 5, "order_note": True})):
        result = run_dag(dag, logical_date=pendulum.datetime(2026, 3, day, tz="UTC"), run_conf=conf)
        assert result.state == "success", result.task_states
        run_ids.append(result.run_id)
    return run_ids


@pytest.fixture(scope="module")
def api_server(two_runs: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``airflow api-server`` on the session's metadata DB (the plugin comes in through its entry point)."""
    port = free_port()
    folder = tmp_path_factory.mktemp("api-server")
    log_path = folder / "api-server.log"
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        # real logins (not "all admins", which lets every request in): one viewer, read-only
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex * 2,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(TESTS_DIR), str(EXAMPLES_DIR), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path, timeout=180)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"api-server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        with contextlib.suppress(OSError):
            if _get(f"{url}/api/v2/version")[0] == 200:
                return
        time.sleep(1)
    raise AssertionError(f"api-server not up after {timeout} s:\n{log_path.read_text()[-4000:]}")


def _get(url: str, token: str | None = None, body: Any = None) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("content-type", "")


@pytest.fixture(scope="module")
def token(api_server: str) -> str:
    """A JWT of the viewer from the simple auth manager's login (``POST /auth/token``)."""
    status, body, _ = _get(f"{api_server}/auth/token", body={"username": USER, "password": PASSWORD})
    assert status in (200, 201), body
    return str(json.loads(body)["access_token"])


def _json(url: str, token: str) -> Any:
    status, body, content_type = _get(url, token)
    assert status == 200, body[:500]
    assert content_type.startswith("application/json"), content_type
    return json.loads(body)


def test_without_a_token_every_route_is_refused(api_server: str) -> None:
    for path in (
        "/dlt/api/pipelines",
        f"/dlt/api/pipelines/{PIPELINE}",
        "/dlt/",
        f"/dlt/pipelines/{PIPELINE}",
    ):
        status, body, _ = _get(f"{api_server}{path}")
        assert status in (401, 403), (path, status, body[:200])
        assert PIPELINE.encode() not in body
    status, _, _ = _get(f"{api_server}/dlt/api/pipelines", token="not-a-jwt")
    assert status in (401, 403)


def test_pipelines_endpoint_holds_the_last_run(api_server: str, token: str, two_runs: list[str]) -> None:
    listing = _json(f"{api_server}/dlt/api/pipelines", token)
    entry = next(p for p in listing["pipelines"] if p["pipeline_name"] == PIPELINE)
    assert entry["dag_id"] == DAG_ID
    assert entry["destination"] == "duckdb" and entry["dataset_name"] == "ui_shop_raw"
    assert entry["last_run"]["run_id"] == two_runs[1] and entry["last_run"]["state"] == "success"
    # the three tasks of the group add up to one run: 5 rows of each table, 10 tags
    assert entry["rows"] == {"customers": 5, "customers__tags": 10, "orders": 5, "products": 5}
    assert entry["runs_recorded"] == 2


def test_pipeline_endpoint_holds_runs_tables_and_schema_changes(
    api_server: str, token: str, two_runs: list[str]
) -> None:
    detail = _json(f"{api_server}/dlt/api/pipelines/{PIPELINE}", token)
    runs = detail["runs"]
    assert [run["run_id"] for run in runs] == two_runs[::-1]
    assert [run["rows"]["orders"] for run in runs] == [5, 3]
    assert all(len(run["load_ids"]) == 3 for run in runs)
    assert sorted(t["task_id"] for t in runs[0]["tasks"]) == sorted(f"shop.{t}" for t in TASKS)
    tables = {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in detail["tables"]}
    assert tables["orders"]["note"] == "text" and tables["orders"]["amount"] == "bigint"
    assert tables["customers__tags"]["value"] == "text"
    changes = {c["run_id"]: c for c in detail["schema_changes"]}
    assert set(changes) == set(two_runs)
    assert changes[two_runs[1]]["new_tables"] == [] and changes[two_runs[1]]["new_columns"] == {
        "orders": ["note"]
    }
    assert "orders" in changes[two_runs[0]]["new_tables"]
    assert _get(f"{api_server}/dlt/api/pipelines/no_such_pipeline", token)[0] == 404
    text = json.dumps(detail)
    assert "password" not in text.lower() and "credentials" not in text.lower()


def test_extra_link_of_a_dlt_task_opens_the_pipeline_page(
    api_server: str, token: str, two_runs: list[str]
) -> None:
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{two_runs[1]}/taskInstances/shop.orders/links"
    links = _json(f"{api_server}{path}", token)
    assert links["extra_links"]["dlt pipeline"] == f"/dlt/pipelines/{PIPELINE}"


def _browser_context(api_server: str, token: str) -> Any:
    from playwright.sync_api import sync_playwright

    try:
        executable = ensure_chromium()
    except BrowserUnavailable as error:
        pytest.fail(str(error))
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    # the UI's session cookie: the same JWT the Airflow UI keeps after login
    context.add_cookies([{"name": "_token", "value": token, "url": api_server}])
    return playwright, browser, context


def test_pages_in_a_real_browser(api_server: str, token: str, two_runs: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    playwright, browser, context = _browser_context(api_server, token)
    try:
        page = context.new_page()
        page.goto(f"{api_server}/dlt/")
        row = page.locator("#pipelines tbody tr", has_text=PIPELINE)
        assert row.count() == 1
        assert DAG_ID in row.inner_text() and "orders: 5" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "dlt_pipelines.png"), full_page=True)

        row.get_by_role("link", name=PIPELINE, exact=True).click()
        page.wait_for_url(f"**/dlt/pipelines/{PIPELINE}")
        assert page.locator("#pipeline-name").inner_text() == PIPELINE
        # one point per run for each table
        for table in ("orders", "customers", "customers__tags", "products"):
            assert page.locator(f'#rows-chart circle.point[data-table="{table}"]').count() == len(two_runs)
        schema = page.locator("#schema").inner_text()
        for column in ("amount", "note", "title", "_dlt_load_id"):
            assert column in schema
        assert "note" in page.locator("#schema-changes").inner_text()
        task_links = page.locator("#runs a[href*='/tasks/']")
        assert task_links.count() == 2 * len(TASKS)
        assert f"/dags/{DAG_ID}/runs/" in (task_links.first.get_attribute("href") or "")
        page.screenshot(path=str(ARTIFACTS / "dlt_pipeline.png"), full_page=True)
    finally:
        context.close()
        browser.close()
        playwright.stop()
