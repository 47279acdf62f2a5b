"""Parse cache of DltTaskGroup: a slow factory is called once, then its graph comes from the store.

The factory lives in its own module file (written per test) that sleeps 2 s and appends a line to a counter
file on every call; DAG files are parsed with a real ``DagBag`` as the DAG processor does.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import dlt
import pytest

from airflow_dlt_provider import _compat
from airflow_dlt_provider.authoring.arguments import check_parse_cache
from airflow_dlt_provider.authoring.parse_cache import entry_name, kwargs_fingerprint
from airflow_dlt_provider.authoring.plan import SourceGraph, components_from_source
from airflow_dlt_provider.authoring.sources import SourceSpec
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.testing.dagrun import load_dag

SECRET = "s3cr3t-Pa55word-never-cached"
CONN_SECRET = "c0nn-Pa55word-never-cached"

SOURCE_MODULE = """\
import time
from pathlib import Path

import dlt

COUNTER = Path({counter!r})


@dlt.source(name="slow")
def slow_source(tables: int = 3, password: str = "", credentials=None):
    time.sleep(2.0)  # reflecting a database
    with COUNTER.open("a") as handle:
        handle.write("call\\n")
    resources = [dlt.resource([{{"id": i}}], name=f"table_{{i}}") for i in range(tables)]

    @dlt.transformer(data_from=resources[0], name="details")
    def details(item):
        yield item

    return [*resources, details]
"""

DAG_FILE = """\
import pendulum
from airflow import DAG
from airflow_dlt_provider import DltTaskGroup

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    DltTaskGroup(
        "slow",
        source="{module}:slow_source",
        source_kwargs={kwargs!r},
        source_conn_ids={{"credentials": "parse_cache_conn"}},
        pipeline_name="slow",
        decompose="independent",
        parse_cache={mode!r},
    )
"""


class SlowSource:
    """A factory module on ``sys.path`` and a counter of its calls."""

    def __init__(self, folder: Path) -> None:
        self.module = f"slow_source_{uuid.uuid4().hex[:8]}"
        self.counter = folder / "calls.txt"
        self.path = folder / f"{self.module}.py"
        self.path.write_text(SOURCE_MODULE.format(counter=str(self.counter)))

    @property
    def calls(self) -> int:
        return len(self.counter.read_text().splitlines()) if self.counter.exists() else 0

    def touch_code(self) -> None:
        self.path.write_text(self.path.read_text() + "\n# a new version of the module\n")


@pytest.fixture
def slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SlowSource:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    monkeypatch.syspath_prepend(str(code_dir))
    monkeypatch.setenv("AIRFLOW_CONN_PARSE_CACHE_CONN", f"postgres://user:{CONN_SECRET}@localhost:5432/db")
    source = SlowSource(code_dir)
    yield source
    sys.modules.pop(source.module, None)


def write_dag(folder: Path, dag_id: str, slow: SlowSource, mode: str | None, **kwargs: object) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{dag_id}.py"
    code = DAG_FILE.format(dag_id=dag_id, module=slow.module, kwargs=kwargs, mode=mode)
    path.write_text(code)
    return path


def parse(path: Path, dag_id: str) -> dict[str, list[str]]:
    """Task id -> sorted upstream ids of the parsed DAG."""
    dag = load_dag(path, dag_id)
    return {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}


EXPECTED_TASKS = {
    "slow.table_0": [],  # with its transformer "details"
    "slow.table_1": ["slow.table_0"],
    "slow.table_2": ["slow.table_0"],
}


def test_variable_store_reuses_graph_and_invalidates_on_kwargs(tmp_path: Path, slow: SlowSource) -> None:
    dag_id = f"parse_cache_var_{uuid.uuid4().hex[:6]}"
    path = write_dag(tmp_path / "dags", dag_id, slow, "variable", tables=3, password=SECRET)

    assert parse(path, dag_id) == EXPECTED_TASKS
    assert slow.calls == 1
    assert parse(path, dag_id) == EXPECTED_TASKS
    assert slow.calls == 1, "the second parse must take the graph from the Variable"

    stored = _compat.variable_get(entry_name(dag_id, "slow"))
    assert stored is not None
    entry = json.loads(stored)
    assert entry["source_name"] == "slow"
    assert entry["parents"] == {"details": "table_0"}
    assert SECRET not in stored and CONN_SECRET not in stored
    assert "password" not in stored, "no kwargs name or value is stored, only the key (a hash)"

    write_dag(tmp_path / "dags", dag_id, slow, "variable", tables=4, password=SECRET)
    tasks = parse(path, dag_id)
    assert slow.calls == 2, "other source_kwargs: the factory is called again"
    assert tasks == {**EXPECTED_TASKS, "slow.table_3": ["slow.table_0"]}
    assert not (path.parent / ".dlt_parse_cache").exists(), "the Variable store writes no file"


def test_file_store_and_code_change(tmp_path: Path, slow: SlowSource) -> None:
    dag_id = f"parse_cache_file_{uuid.uuid4().hex[:6]}"
    path = write_dag(tmp_path / "dags", dag_id, slow, "file", tables=3, password=SECRET)

    assert parse(path, dag_id) == EXPECTED_TASKS
    assert parse(path, dag_id) == EXPECTED_TASKS
    assert slow.calls == 1
    (cache_file,) = (path.parent / ".dlt_parse_cache").iterdir()
    content = cache_file.read_text()
    assert json.loads(content)["selected"] == ["table_0", "table_1", "table_2", "details"]
    assert SECRET not in content and CONN_SECRET not in content
    assert _compat.variable_get(entry_name(dag_id, "slow")) is None, "the file store sets no Variable"

    slow.touch_code()
    assert parse(path, dag_id) == EXPECTED_TASKS
    assert slow.calls == 2, "a changed module file invalidates the entry"
    assert parse(path, dag_id) == EXPECTED_TASKS
    assert slow.calls == 2


def test_broken_entry_is_recomputed(tmp_path: Path) -> None:
    """A store holding garbage never breaks the parse: the factory is called and the entry replaced."""
    from dlt.extract.source import DltSource

    from airflow_dlt_provider.authoring.parse_cache import cached_graph

    calls = []

    def factory() -> DltSource:
        calls.append(1)
        return DltSource(dlt.Schema("s"), "s", [dlt.resource([1], name="only")])

    dag_file = tmp_path / "dag.py"
    dag_file.write_text("")
    store = tmp_path / ".dlt_parse_cache"
    store.mkdir()
    (store / "d__g.json").write_text("{not json")

    def cached() -> SourceGraph:
        return cached_graph(
            "file", spec=SourceSpec(factory), source_kwargs={}, dag_id="d", group_id="g", dag_file=str(dag_file),
            compute=factory,
        )  # fmt: skip

    assert cached() == SourceGraph("s", ("only",), {})
    assert cached() == SourceGraph("s", ("only",), {})
    assert len(calls) == 1
    assert json.loads((store / "d__g.json").read_text())["selected"] == ["only"]


def test_source_graph_components_match_the_source() -> None:
    users = dlt.resource([1], name="users")
    issues = dlt.resource([1], name="issues")

    @dlt.transformer(data_from=issues, name="comments")
    def comments(item: object) -> object:
        yield item

    @dlt.transformer(data_from=comments, name="reactions")
    def reactions(item: object) -> object:
        yield item

    from dlt.extract.source import DltSource

    source = DltSource(dlt.Schema("gh"), "gh", [users, issues, comments, reactions])
    graph = SourceGraph.from_source(source)
    assert graph.parents == {"comments": "issues", "reactions": "comments"}
    assert graph.components() == components_from_source(source)
    assert graph.components(["users", "reactions"]) == components_from_source(source, ["users", "reactions"])


def test_kwargs_hash_is_stable_and_hides_values() -> None:
    first = kwargs_fingerprint({"b": 1, "a": SECRET, "when": "{{ ds }}"})
    assert first == kwargs_fingerprint({"when": "{{ ds }}", "a": SECRET, "b": 1})
    assert first != kwargs_fingerprint({"b": 1, "a": SECRET, "when": "{{ ts }}"})
    assert SECRET not in first


def test_parse_cache_argument_is_checked() -> None:
    assert check_parse_cache(None) is None
    assert check_parse_cache("file") == "file"
    with pytest.raises(InvalidArgumentError, match=r"parse_cache='varible' is not one of: None .*'variable'"):
        check_parse_cache("varible")


def test_entry_name_is_a_safe_variable_key() -> None:
    name = entry_name("my dag", "x" * 400)
    assert name.startswith("dlt_parse_cache__my_dag__")
    assert len(name) <= 250
    assert name == entry_name("my dag", "x" * 400), "the same group gets the same key on every parse"


def test_installed_version_reads_the_dist_info_folder_and_falls_back_to_metadata(tmp_path: Path) -> None:
    from importlib.metadata import version

    from airflow_dlt_provider.authoring.parse_cache import installed_version

    assert installed_version("dlt") == version("dlt") == dlt.__version__
    assert installed_version("pytest") == version("pytest")  # another package, same rule
    # two dist-info folders beside a package (a botched upgrade): the metadata lookup decides
    site = tmp_path / "site"
    (site / "twice_installed").mkdir(parents=True)
    (site / "twice_installed" / "__init__.py").write_text("")
    for v in ("1.0", "2.0"):
        meta = site / f"twice_installed-{v}.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: twice_installed\nVersion: {v}\n")
    sys.path.insert(0, str(site))
    try:
        assert installed_version("twice_installed") in ("1.0", "2.0")
        assert installed_version("twice_installed") == version("twice_installed")
    finally:
        sys.path.remove(str(site))
