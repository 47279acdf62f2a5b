"""A DAG file that names its source by import string parses without importing dlt or the source module.

What parse time no longer checks is checked when the task starts and by ``airflow-dlt check``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from support.dag_runs import duckdb_counts, run_dag_file

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.exceptions import SourceResolutionError

SOURCE_MODULE = """
import dlt

CALLS_FILE = None


@dlt.source(name="shop_source")
def shop(rows: int = 2):
    @dlt.resource
    def customers():
        yield [{"id": i} for i in range(rows)]

    @dlt.resource
    def orders():
        yield [{"id": i} for i in range(rows)]

    return customers, orders


def plain_factory():
    return shop()


made_at_import = shop()
"""

PARSE_AND_REPORT = """
import json, sys
from airflow_dlt_provider._compat import dag_bag
bag = dag_bag(sys.argv[1])
print("RESULT " + json.dumps({
    "errors": {str(k): str(v)[-400:] for k, v in bag.import_errors.items()},
    "tasks": sorted(t for d in bag.dags.values() for t in d.task_ids),
    "dlt": "dlt" in sys.modules,
    "source_module": sys.argv[2] in sys.modules,
}))
"""


@pytest.fixture
def source_module(tmp_path: Path) -> tuple[Path, str]:
    name = f"fast_src_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / f"{name}.py").write_text(SOURCE_MODULE)
    return folder, name


def _dag_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"dag_{uuid.uuid4().hex[:8]}.py"
    path.write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow import DAG
            from airflow_dlt_provider import DltTaskGroup

            with DAG("fast", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return path


def _parse_in_fresh_process(dag_file: Path, module_folder: Path, module: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(module_folder), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", PARSE_AND_REPORT, str(dag_file), module],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, result.stdout[-3000:] + result.stderr[-3000:]
    return dict(json.loads(line[len("RESULT ") :]))


def test_import_string_with_resources_imports_neither_dlt_nor_the_module(tmp_path, source_module):
    folder, module = source_module
    dag_file = _dag_file(
        tmp_path,
        f"""
        DltTaskGroup("grp", source="{module}:shop", resources=["customers", "orders"], pipeline_name="fast_p")
        DltTaskGroup("one", source="{module}:shop", decompose="none", pipeline_name="fast_q")
        DltTaskGroup("plain", source="{module}:plain_factory", decompose="none", pipeline_name="fast_r")
        with DAG("fast_mapped", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), max_active_runs=1):
            DltTaskGroup("mapped", source="{module}:shop", decompose="mapped", pipeline_name="fast_m")
        """,
    )
    result = _parse_in_fresh_process(dag_file, folder, module)
    assert result["errors"] == {}
    # "none": the source's own name, from @dlt.source(name=...) read in the file; a plain def: its name
    assert result["tasks"] == [
        "grp.customers",
        "grp.orders",
        "mapped.discover",
        "mapped.load",
        "one.shop_source",
        "plain.plain_factory",
    ]
    assert result == {**result, "dlt": False, "source_module": False}


def test_a_warm_parse_cache_serves_a_fresh_process_without_dlt(tmp_path, source_module):
    folder, module = source_module
    dag_file = _dag_file(
        tmp_path, f'DltTaskGroup("grp", source="{module}:shop", pipeline_name="fast_c", parse_cache="file")\n'
    )
    first = _parse_in_fresh_process(dag_file, folder, module)
    assert first["tasks"] == ["grp.customers", "grp.orders"] and first["dlt"]  # cold: the factory was called
    second = _parse_in_fresh_process(dag_file, folder, module)
    assert second["tasks"] == first["tasks"]
    assert not second["dlt"] and not second["source_module"]


def test_forms_that_need_the_object_are_imported_as_before(source_module, monkeypatch):
    folder, module = source_module
    monkeypatch.syspath_prepend(str(folder))
    spec = resolve_source_spec(f"{module}:made_at_import")  # an assignment: only running the module tells
    assert spec.is_resolved and not spec.is_factory
    assert resolve_source_spec(f"{module}:shop").located is not None


@pytest.mark.parametrize(
    "source, message",
    [
        ("no_such_module_adp:shop", "module 'no_such_module_adp' cannot be found on the Python path"),
        ("{module}:shoop", "defines no 'shoop' at its top level"),
        ("{module}", "is not an import string of the form 'package.module:attribute'"),
    ],
)
def test_wrong_import_strings_still_fail_at_parse_time(source_module, monkeypatch, source, message):
    folder, module = source_module
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(SourceResolutionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_source_spec(source.format(module=module))


def test_a_wrong_resource_name_fails_when_the_task_starts_and_names_the_available_ones(dags_folder, capfd):
    body = """
        DltTaskGroup("grp", source="support.sources.basic:two_tables", resources=["alpha", "gamma"],
                     pipeline_name="fast_wrong", default_args={"retries": 2})
    """
    result = run_dag_file(
        dags_folder,
        f"fast_wrong_{uuid.uuid4().hex[:6]}",
        body,
        "from airflow_dlt_provider import DltTaskGroup",
    )
    assert result.task_states["grp.alpha"] == "success"
    assert result.task_states["grp.gamma"] == "failed"  # terminal: no retry can fix a name
    assert "has no resource named 'gamma'; available resources: alpha, beta" in "".join(capfd.readouterr())


def test_a_located_source_loads_when_the_task_runs(dags_folder):
    pipeline = f"fast_run_{uuid.uuid4().hex[:6]}"
    body = f"""
        DltTaskGroup("grp", source="support.sources.basic:two_tables", resources=["alpha", "beta"],
                     pipeline_name={pipeline!r}, dataset_name="raw")
    """
    result = run_dag_file(
        dags_folder, f"fast_run_{uuid.uuid4().hex[:6]}", body, "from airflow_dlt_provider import DltTaskGroup"
    )
    assert set(result.task_states.values()) == {"success"}
    assert duckdb_counts(pipeline, "raw") == {"alpha": 3, "beta": 3}


def test_airflow_dlt_check_reports_what_parse_time_skipped(tmp_path, source_module):
    folder, module = source_module
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{module}.py").write_text((folder / f"{module}.py").read_text())
    (dags / "good.py").write_text(
        _dag_file(
            tmp_path,
            f'DltTaskGroup("g", source="{module}:shop", resources=["orders"], pipeline_name="ok_p")\n',
        )
        .read_text()
        .replace('"fast"', '"good"')
    )
    (dags / "bad.py").write_text(
        _dag_file(
            tmp_path,
            f'DltTaskGroup("b", source="{module}:shop", resources=["orders", "refunds"], pipeline_name="bad_p")\n'
            f'DltTaskGroup("c", source="{module}:shop", resources=["orders"], pipeline_name="bad_q",\n'
            '             source_kwargs={"rows": "{{ params.rows }}"})\n',
        )
        .read_text()
        .replace('"fast"', '"bad"')
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(dags), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow-dlt"), "check", str(dags)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("error     bad.b.refunds: source 'shop_source' has no resource named 'refunds'")
        for line in lines
    ), result.stdout
    assert any(line.startswith("unchecked bad.c.orders:") and "templated" in line for line in lines)
    assert not any("good." in line for line in lines if line.startswith(("error", "unchecked")))
    assert (
        lines[-1]
        == "4 dlt task(s) in 2 DAG(s) checked: 1 error(s), 1 not checked, 0 DAG file(s) failed to import"
    )


def test_the_pytest_helper_raises_on_what_the_check_finds(tmp_path, source_module, monkeypatch):
    from airflow_dlt_provider.exceptions import DltSourceCheckError
    from airflow_dlt_provider.testing import assert_dlt_sources_valid, load_dag_folder

    folder, module = source_module
    monkeypatch.syspath_prepend(str(folder))
    dags = tmp_path / "dags_for_pytest"
    dags.mkdir()
    dag_file = _dag_file(
        tmp_path,
        f'DltTaskGroup("g", source="{module}:shop", resources=["orders", "refund"], pipeline_name="pt")\n',
    )
    dag_file.rename(dags / "d.py")
    bag = load_dag_folder(dags)
    with pytest.raises(
        DltSourceCheckError, match=r"fast\.g\.refund: source 'shop_source' has no resource named 'refund'"
    ):
        assert_dlt_sources_valid(bag)
