"""Assets per loaded table: URIs per destination, parse-time outlets, and events recorded by Airflow."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import dlt
import pendulum
import pytest
from github_sample_source import github_sample
from support.dag_runs import asset_events, metadata_rows, run_dag_file
from support.sample_data import expected_sample_counts

from airflow_dlt_provider import DltRunOperator
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS, Asset, AssetAlias
from airflow_dlt_provider.assets import locations, uris
from airflow_dlt_provider.runtime.workdir import default_duckdb_path

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG

SECRET = "s3cr3t-Pa55"


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _dag() -> DAG:
    return DAG(_unique("dag"), schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))


def _location(destination, tmp_path) -> locations.DestinationLocation | None:
    pipeline = dlt.pipeline(
        _unique("loc"), pipelines_dir=str(tmp_path), destination=destination, dataset_name="raw"
    )
    return locations.location_from_pipeline(pipeline)


# ---------------------------------------------------------------- URIs per destination


@pytest.mark.parametrize(
    ("destination", "uri", "openlineage"),
    [
        (
            lambda: dlt.destinations.postgres(
                credentials=f"postgresql://loader:{SECRET}@db.example:5433/analytics"
            ),
            "postgres://db.example:5433/analytics/raw/users",
            ("postgres://db.example:5433", "analytics.raw.users"),
        ),
        (
            lambda: dlt.destinations.postgres(
                credentials=f"postgresql://loader:{SECRET}@db.example/analytics"
            ),
            "postgres://db.example:5432/analytics/raw/users",
            ("postgres://db.example:5432", "analytics.raw.users"),
        ),
        (
            lambda: dlt.destinations.redshift(
                credentials=f"redshift://loader:{SECRET}@cl.example.com/analytics"
            ),
            "redshift://cl.example.com:5439/analytics/raw/users",
            ("redshift://cl.example.com:5439", "analytics.raw.users"),
        ),
        (
            lambda: dlt.destinations.snowflake(
                credentials=f"snowflake://loader:{SECRET}@ORG-ACCT/ANALYTICS?warehouse=wh&role=loader"
            ),
            "snowflake://org-acct/ANALYTICS/raw/users",
            ("snowflake://org-acct", "ANALYTICS.raw.users"),
        ),
        (
            lambda: dlt.destinations.bigquery(
                credentials={
                    "project_id": "my-project",
                    "private_key": SECRET,
                    "client_email": "l@my-project.iam",
                }
            ),
            "bigquery://my-project/raw/users",
            ("bigquery", "my-project.raw.users"),
        ),
        (
            lambda: dlt.destinations.filesystem(
                bucket_url="s3://my-bucket/lake",
                credentials={"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": SECRET},
            ),
            "s3://my-bucket/lake/raw/users",
            ("s3://my-bucket", "lake/raw/users"),
        ),
        (
            lambda: dlt.destinations.filesystem(bucket_url="gs://my-bucket"),
            "gs://my-bucket/raw/users",
            ("gs://my-bucket", "raw/users"),
        ),
        (
            lambda: dlt.destinations.filesystem(bucket_url="az://container/lake"),
            "az://container/lake/raw/users",
            ("az://container", "lake/raw/users"),
        ),
    ],
    ids=["postgres", "postgres-default-port", "redshift", "snowflake", "bigquery", "s3", "gs", "az"],
)
def test_location_uri_per_destination_has_no_secret(destination, uri, openlineage, tmp_path):
    location = _location(destination(), tmp_path)
    assert location is not None
    assert location.uri("raw", "users") == uri
    assert location.openlineage_name("raw", "users") == openlineage
    # Airflow's asset URI validation (with the providers installed here) accepts the URI unchanged
    assert Asset(uri).uri == uri
    assert SECRET not in repr(location) and "loader" not in uri and "AKIA" not in repr(location)


def test_duckdb_and_local_filesystem_uris(tmp_path):
    duckdb_file = tmp_path / "warehouse.duckdb"
    location = _location(dlt.destinations.duckdb(credentials=str(duckdb_file)), tmp_path)
    uri = location.uri("raw", "users")
    assert uri == f"duckdb:{duckdb_file}/raw/users"
    assert location.openlineage_name("raw", "users") == (f"duckdb://{duckdb_file}", "warehouse.raw.users")
    # the documented spelling duckdb:///abs/... names the same asset: Airflow drops the empty authority
    assert Asset(f"duckdb://{duckdb_file}/raw/users").uri == uri == Asset(uri).uri

    local = _location(dlt.destinations.filesystem(bucket_url=str(tmp_path / "lake")), tmp_path)
    assert local.uri("raw", "users") == f"file://{tmp_path}/lake/raw/users"
    assert Asset(local.uri("raw", "users")).uri == local.uri("raw", "users")


def test_generic_sql_location_without_a_driver():
    config = SimpleNamespace(
        credentials=SimpleNamespace(host="sql.example", port=None, database="dwh", password=SECRET)
    )
    location = locations.location_from_config("dlt.destinations.mssql", config)
    assert location.uri("raw", "users") == "mssql://sql.example:1433/dwh/raw/users"
    assert Asset(location.uri("raw", "users")).uri == location.uri("raw", "users")


def test_bucket_url_user_info_and_query_are_dropped():
    assert (
        locations.bucket_url_without_secrets(f"s3://AKIA:{SECRET}@bucket/path?token={SECRET}")
        == "s3://bucket/path"
    )
    assert locations.bucket_url_without_secrets("abfss://cont@acct.dfs.core.windows.net/p") == "az://cont/p"


def test_logical_uris_are_stable_and_quoted():
    assert uris.logical_uri("warehouse", "raw_github", "issues") == "dlt://warehouse/raw_github/issues"
    weird = uris.logical_uri("user:pw@host", "raw", "a/b")
    assert "@" not in weird and weird.count("/") == 4
    assert Asset(weird).uri == weird
    assert uris.destination_target(None, None, "gh") == "duckdb.gh"
    assert uris.destination_target("warehouse", "postgres", "gh") == "warehouse"
    assert uris.destination_target(None, "bigquery", "gh") == "bigquery"
    assert uris.table_asset("warehouse", "raw", "issues").uri == "dlt://warehouse/raw/issues"
    assert uris.table_asset(None, "raw", "users", pipeline_name="gh").uri == "dlt://duckdb.gh/raw/users"


# ---------------------------------------------------------------- parse-time outlets


def test_source_object_declares_its_tables_and_the_alias():
    with _dag():
        task = DltRunOperator(
            task_id="t",
            source=github_sample(),
            pipeline_name="gh",
            destination_conn_id="warehouse",
            dataset_name="raw",
            resources=["users", "issues"],
        )
    uris = sorted(o.uri for o in task.outlets if isinstance(o, Asset))
    assert uris == ["dlt://warehouse/raw/issues", "dlt://warehouse/raw/users"]
    assert [o.name for o in task.outlets if isinstance(o, AssetAlias)] == ["dlt:gh"]


def test_factory_templated_dataset_and_emit_assets_false():
    with _dag():
        factory = DltRunOperator(task_id="a", source=github_sample, pipeline_name="gh", dataset_name="raw")
        named = DltRunOperator(
            task_id="n",
            source="github_sample_source:github_sample",
            pipeline_name="gh",
            dataset_name="raw",
            resources=["users", "issues"],
        )
        templated = DltRunOperator(
            task_id="b", source=github_sample(), pipeline_name="gh", dataset_name="raw_{{ ds_nodash }}"
        )
        off = DltRunOperator(task_id="c", source=github_sample(), pipeline_name="gh", emit_assets=False)
        user_outlet = Asset("s3://bucket/other")
        kept = DltRunOperator(
            task_id="d", source=github_sample, pipeline_name="gh", outlets=[user_outlet], emit_assets=False
        )
    # a factory is not called at parse time: its tables arrive through the alias
    assert [type(o) for o in factory.outlets] == [AssetAlias]
    # ... unless resources are named: a resource loads the table of its name (dlt's default)
    assert sorted(getattr(o, "uri", None) or o.name for o in named.outlets) == [
        "dlt://duckdb.gh/raw/issues",
        "dlt://duckdb.gh/raw/users",
        "dlt:gh",
    ]
    assert [type(o) for o in templated.outlets] == [AssetAlias]
    assert off.outlets == []
    assert kept.outlets == [user_outlet]


# ---------------------------------------------------------------- events recorded by Airflow


def test_every_loaded_table_gets_an_event_with_its_rows(dags_folder):
    pipeline = _unique("assets")
    body = (
        f"DltRunOperator(task_id='load', source=github_sample(repos=['dlt']), resources=['issues'], "
        f"pipeline_name={pipeline!r}, dataset_name='raw')"
    )
    result = run_dag_file(
        dags_folder, _unique("dag"), body, imports="from github_sample_source import github_sample"
    )
    assert result.state == "success", result.task_states
    expected = {t: n for t, n in expected_sample_counts({"dlt"}).items() if t in ("issues", "issues__labels")}
    load_id = result.xcom("load")["load_ids"][0]
    events = asset_events(result.dag_id, result.run_id)

    duckdb_file = default_duckdb_path(pipeline).resolve()
    for table, rows in expected.items():
        extra = events[f"dlt://duckdb.{pipeline}/raw/{table}"]
        assert extra["rows"] == rows, (table, extra)
        assert extra["load_id"] == load_id
        assert extra["pipeline_name"] == pipeline
        assert extra["dataset_name"] == "raw"
        assert extra["table"] == table
        assert extra["location"] == f"duckdb:{duckdb_file}/raw/{table}"  # in the extra, not an asset
    # one asset per table: issues was a declared outlet, the child table came through the alias
    assert set(events) == {f"dlt://duckdb.{pipeline}/raw/{t}" for t in expected}
    assert _producing_tasks(f"dlt://duckdb.{pipeline}/raw/issues") == [(result.dag_id, "load")]


def _producing_tasks(uri: str) -> list[tuple[str, str]]:
    """What Airflow's asset page lists under "Producing Tasks": the outlet references of the asset."""
    table, ref, column = ("asset", "task_outlet_asset_reference", "asset_id")
    if not AIRFLOW_V_3_0_PLUS:
        table, ref, column = ("dataset", "task_outlet_dataset_reference", "dataset_id")
    return metadata_rows(
        f"SELECT r.dag_id, r.task_id FROM {ref} r JOIN {table} a ON a.id = r.{column} WHERE a.uri = :uri",
        uri=uri,
    )


def test_emit_assets_false_records_no_event(dags_folder):
    body = (
        f"DltRunOperator(task_id='load', source=github_sample(), resources=['users'], "
        f"pipeline_name={_unique('noassets')!r}, dataset_name='raw', emit_assets=False)"
    )
    result = run_dag_file(
        dags_folder, _unique("dag"), body, imports="from github_sample_source import github_sample"
    )
    assert result.state == "success", result.task_states
    assert result.xcom("load")["rows"] == {"users": expected_sample_counts()["users"]}
    assert asset_events(result.dag_id, result.run_id) == {}


def test_task_group_tasks_declare_their_own_tables_and_forward_on_schema_change():
    from airflow_dlt_provider import DltTaskGroup

    with _dag():
        group = DltTaskGroup(
            "gh", source=github_sample(), pipeline_name="gh", dataset_name="raw", on_schema_change="fail"
        )
    outlets = {
        task.task_id: sorted(getattr(o, "uri", None) or o.name for o in task.outlets)
        for task in group.children.values()
    }
    assert outlets == {
        "gh.users": ["dlt://duckdb.gh/raw/users", "dlt:gh"],
        "gh.issues": ["dlt://duckdb.gh/raw/comments", "dlt://duckdb.gh/raw/issues", "dlt:gh"],
    }
    assert {task.on_schema_change for task in group.children.values()} == {"fail"}


def test_an_asset_alias_is_registered_once_on_airflow_2() -> None:
    """Airflow 2 fails an alias event without the alias's row (a DAG no DAG processor parsed); 3 needs none."""
    from airflow_dlt_provider.assets.events import ensure_asset_alias_registered

    ensure_asset_alias_registered("dlt_assets_alias")
    ensure_asset_alias_registered("dlt_assets_alias")  # idempotent
    if AIRFLOW_V_3_0_PLUS:
        return
    from sqlalchemy import func, select

    from airflow_dlt_provider import _compat

    alias = _compat.DatasetAliasModel
    with _compat.create_session() as session:
        assert session.scalar(select(func.count()).where(alias.name == "dlt_assets_alias")) == 1
