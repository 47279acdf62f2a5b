"""``airflow-dlt init``: read a dlt pipeline script (never run it), write a DltTaskGroup DAG, print the setup.

The end-to-end tests run the real console script, parse the generated DAG like the DAG processor and run it
once with ``dag.test()`` into DuckDB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from support.dag_runs import duckdb_counts

from airflow_dlt_provider import __version__
from airflow_dlt_provider._compat import dag_bag
from airflow_dlt_provider.exceptions import ScaffoldError
from airflow_dlt_provider.pools.sync import pools_needed
from airflow_dlt_provider.scaffold.decide import plan_scaffold
from airflow_dlt_provider.scaffold.read import read_pipeline_script
from airflow_dlt_provider.scaffold.render import render_dag
from airflow_dlt_provider.scaffold.write import write_scaffold

CONSOLE_SCRIPT = Path(sys.executable).with_name("airflow-dlt")

# what `dlt init rest_api duckdb` writes (trimmed to the GitHub source; nothing runs at import)
REST_API_SCRIPT = """\
from typing import Any, Optional

import dlt
from dlt.common.pendulum import pendulum
from dlt.sources.rest_api import RESTAPIConfig, check_connection, rest_api_resources, rest_api_source


@dlt.source(name="github")
def github_source(access_token: Optional[str] = dlt.secrets.value) -> Any:
    config: RESTAPIConfig = {
        "client": {
            "base_url": "https://api.github.com/repos/dlt-hub/dlt/",
            "auth": {"type": "bearer", "token": access_token} if access_token else None,
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"params": {"per_page": 100}},
        },
        "resources": [
            {
                "name": "issues",
                "endpoint": {
                    "path": "issues",
                    "params": {
                        "sort": "updated",
                        "direction": "desc",
                        "state": "open",
                        "since": {
                            "type": "incremental",
                            "cursor_path": "updated_at",
                            "initial_value": pendulum.today().subtract(days=30).to_iso8601_string(),
                        },
                    },
                },
            },
            {
                "name": "issue_comments",
                "endpoint": {"path": "issues/{resources.issues.number}/comments"},
                "include_from_parent": ["id"],
            },
        ],
    }
    yield from rest_api_resources(config)


def load_github() -> None:
    pipeline = dlt.pipeline(
        pipeline_name="rest_api_github",
        destination="duckdb",
        dataset_name="rest_api_data",
    )
    load_info = pipeline.run(github_source())
    print(load_info)


def load_pokemon() -> None:
    pipeline = dlt.pipeline(pipeline_name="rest_api_pokemon", destination="duckdb", dataset_name="pokemon")
    pokemon_source = rest_api_source({"client": {"base_url": "https://pokeapi.co/api/v2/"}, "resources": ["pokemon"]})
    can_connect, error = check_connection(pokemon_source, "not_existing_endpoint")
    print(pipeline.run(pokemon_source))


if __name__ == "__main__":
    load_github()
    load_pokemon()
"""

# the shape of `dlt init`'s default template: module-level resources, a source named `source`, inline data
FRUITSHOP_SCRIPT = """\
import dlt
from dlt.common import Decimal


@dlt.resource(name="customers", primary_key="id")
def customers():
    yield [
        {"id": 1, "name": "simon", "city": "berlin"},
        {"id": 2, "name": "violet", "city": "london"},
        {"id": 3, "name": "tammo", "city": "new york"},
    ]


@dlt.resource(name="inventory", primary_key="id")
def inventory():
    yield [
        {"id": 1, "name": "apple", "price": Decimal("1.50")},
        {"id": 2, "name": "banana", "price": Decimal("1.70")},
    ]


@dlt.source(name="my_fruitshop")
def source():
    return customers(), inventory()


def load_stuff() -> None:
    p = dlt.pipeline(pipeline_name="PIPELINE_NAME", destination="duckdb", dataset_name="fruitshop_data")
    load_info = p.run(source())
    print(load_info)


if __name__ == "__main__":
    raise SystemExit("this script must not run when airflow-dlt init reads it")
"""


def _init(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "init", *map(str, args)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_rest_api_script_becomes_a_dag_that_imports(tmp_path, monkeypatch):
    name = _unique("rest_api_pipeline")
    script = tmp_path / "project" / f"{name}.py"
    script.parent.mkdir()
    script.write_text(REST_API_SCRIPT)
    dags = tmp_path / "dags"

    result = _init(script, "--dags-folder", dags)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    dag_file = dags / f"{name}_dag.py"
    assert dag_file.is_file()
    assert (dags / script.name).read_text() == REST_API_SCRIPT, "the script is copied next to the DAG"
    text = dag_file.read_text()
    assert "from airflow.sdk import DAG" in text
    assert f'source="{name}:github_source"' in text
    # requirements for the three platforms, with the destination's extra and the constraints note
    requirement = f"airflow-dlt-provider[duckdb]=={__version__}"
    for platform in ("Cloud Composer", "Astronomer", "MWAA"):
        line = next(line for line in out.splitlines() if line.strip().startswith(platform))
        assert requirement in line or "constraints" in line, line
    assert out.count(requirement) >= 4
    assert '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-' in out
    assert 'airflow pools set dlt_rest_api_github 1 "dlt pipeline rest_api_github"' in out
    assert f"SOURCES__{name.upper()}__GITHUB__ACCESS_TOKEN" in out
    assert "2 dlt.pipeline(...) calls found; used the one on line" in out
    assert "DuckDB" in out and "AIRFLOW_CONN_" not in out

    # the DAG processor's view: no import errors, one group, the pool airflow-dlt printed
    monkeypatch.syspath_prepend(str(dags))
    bag = dag_bag(str(dags))
    assert bag.import_errors == {}
    dag = bag.dags["dlt_rest_api_github"]
    assert dag.schedule_interval if hasattr(dag, "schedule_interval") else dag.schedule
    assert list(dag.task_group.children) == ["github"]
    # issue_comments is fed by issues (a transformer), so both run in one task
    assert [task.task_id for task in dag.tasks] == ["github.issues"]
    assert [need.name for need in pools_needed([dag])] == ["dlt_rest_api_github"]
    assert all(task.retries == 2 for task in dag.tasks)


def test_generated_dag_loads_the_source_into_duckdb(dags_folder, monkeypatch):
    """Script inside the DAGs folder (a sub-folder): used in place; the DAG runs and loads every table."""
    from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

    pipeline = _unique("fruitshop")
    package = dags_folder / _unique("pipelines")
    package.mkdir()
    script = package / "fruitshop_pipeline.py"
    script.write_text(FRUITSHOP_SCRIPT.replace("PIPELINE_NAME", pipeline))
    monkeypatch.syspath_prepend(str(dags_folder))
    try:
        result = _init(script, "--dags-folder", dags_folder, "--schedule", "none")
        assert result.returncode == 0, result.stderr
        assert "Copied" not in result.stdout
        dag_file = package / "fruitshop_pipeline_dag.py"
        assert f'source="{package.name}.fruitshop_pipeline:source"' in dag_file.read_text()
        # the resources the source returns are named: the DAG file's parse imports neither dlt nor the script
        assert 'resources=["customers", "inventory"],' in dag_file.read_text()

        dag = load_dag(dag_file, f"dlt_{pipeline}")
        assert [task.task_id for task in dag.tasks] == ["my_fruitshop.customers", "my_fruitshop.inventory"]
        run = run_dag(dag)

        assert run.state == "success", run.task_states
        assert duckdb_counts(pipeline, "fruitshop_data") == {"customers": 3, "inventory": 2}
        assert run.xcom("my_fruitshop.inventory")["rows"] == {"inventory": 2}
    finally:
        shutil.rmtree(package)


def test_a_transformer_is_named_with_the_resource_that_feeds_it(tmp_path):
    from support import EXAMPLES_DIR

    from airflow_dlt_provider.scaffold.read import read_pipeline_script

    (source,) = read_pipeline_script(EXAMPLES_DIR / "github_sample_source.py").sources
    assert source.resource_groups == (("users",), ("issues", "comments"))
    script = tmp_path / "looped.py"
    script.write_text(
        "import dlt\n\n@dlt.source\ndef s():\n    return [dlt.resource([1], name=n) for n in 'ab']\n"
    )
    assert read_pipeline_script(script).sources[0].resource_groups is None  # not plain: the graph decides


def test_warehouse_destination_gets_a_connection(tmp_path):
    script = tmp_path / "sales.py"
    script.write_text(
        textwrap.dedent(
            """
            import dlt
            from dlt import source as dlt_source
            from dlt.sources.sql_database import sql_database

            @dlt_source
            def crm(api_key: str = dlt.secrets.value, page_size=dlt.config.value):
                return []

            if __name__ == "__main__":
                pipeline = dlt.pipeline("sales", destination=dlt.destinations.postgres("postgres://x"), dataset_name="crm")
                pipeline.run(crm().with_resources("deals"))
            """
        )
    )
    plan = plan_scaffold(script, tmp_path / "dags")
    out = write_scaffold(plan)

    assert (plan.pipeline_name, plan.destination, plan.dataset_name) == ("sales", "postgres", "crm")
    assert plan.target.function_name == "crm" and plan.target.secret_args == ("api_key",)
    text = plan.dag_path.read_text()
    assert 'destination_conn_id="postgres_default"' in text
    compile(text, str(plan.dag_path), "exec")
    assert "AIRFLOW_CONN_POSTGRES_DEFAULT='postgres://USER:PASSWORD@HOST:5432/DATABASE'" in out
    assert f"airflow-dlt-provider[postgres]=={__version__}" in out
    assert "SOURCES__SALES__CRM__API_KEY" in out


def test_run_target_decides_between_sources_and_resources(tmp_path):
    script = tmp_path / "two.py"
    script.write_text(
        textwrap.dedent(
            """
            import dlt as d

            @d.resource(name="raw_events")
            def events():
                yield {"id": 1}

            @d.transformer(data_from=events)
            def enriched(event):
                yield event

            @d.source
            def first():
                return events

            @d.source(name="second_source")
            def second():
                return events

            def main():
                d.pipeline(pipeline_name="unused", destination="duckdb")
                p = d.pipeline(pipeline_name="two", destination="duckdb", dataset_name="two_data")
                p.run(second())
            """
        )
    )
    info = read_pipeline_script(script)
    assert [(f.function_name, f.kind, f.name) for f in info.functions] == [
        ("events", "resource", "raw_events"),
        ("enriched", "transformer", "enriched"),
        ("first", "source", "first"),
        ("second", "source", "second_source"),
    ]
    plan = plan_scaffold(script, tmp_path)
    assert plan.target.function_name == "second" and plan.group_id == "second_source"
    assert plan.pipeline_name == "two", "the dlt.pipeline in the function that runs the chosen source"
    assert any("other sources in the script: first" in note for note in plan.notes)

    chosen = plan_scaffold(script, tmp_path, source="events")
    assert chosen.source_import == "two:events"
    with pytest.raises(ScaffoldError, match=r"--source 'enriched' is not .* found: events, first, second"):
        plan_scaffold(script, tmp_path, source="enriched")


def test_defaults_without_pipeline_call(tmp_path):
    script = tmp_path / "only_resource.py"
    script.write_text("import dlt\n\n@dlt.resource\ndef rows():\n    yield {'a': 1}\n")
    plan = plan_scaffold(script, tmp_path / "dags", schedule="none")
    assert (plan.pipeline_name, plan.destination, plan.dataset_name) == (
        "dlt_only_resource",
        "duckdb",
        "dlt_only_resource_dataset",
    )
    assert "schedule=None," in render_dag(plan)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("import dlt\n\ndef helper():\n    pass\n", "defines no @dlt.source or @dlt.resource function"),
        ("import dlt\n\ndef broken(:\n", "has a syntax error on line 3"),
    ],
)
def test_unusable_scripts_fail_with_a_clear_message(tmp_path, content, message):
    script = tmp_path / "bad_script.py"
    script.write_text(content)
    result = _init(script, "--dags-folder", tmp_path / "dags")
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "dags").exists(), "nothing is written when the script cannot be used"


def test_existing_dag_is_kept_unless_forced(tmp_path):
    script = tmp_path / "keep.py"
    script.write_text("import dlt\n\n@dlt.source\ndef src():\n    return []\n")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "keep_dag.py").write_text("# mine\n")

    refused = _init(script, "--dags-folder", dags)
    assert refused.returncode == 2 and "already exists; pass --force" in refused.stderr
    assert (dags / "keep_dag.py").read_text() == "# mine\n"

    forced = _init(script, "--dags-folder", dags, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "DltTaskGroup(" in (dags / "keep_dag.py").read_text()
