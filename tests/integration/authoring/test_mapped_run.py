"""``decompose="mapped"`` run end to end with ``dag.test()``: it loads what ``"serialize"`` loads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from support.dag_runs import asset_events, metadata_rows, run_dag_file
from support.sources import task_only


def _xcom_by_map_index(dag_id: str, run_id: str, task_id: str) -> dict[int, Any]:
    rows = metadata_rows(
        "SELECT map_index, value FROM xcom WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = :task_id "
        "AND key = 'return_value'",
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
    )
    values = {}
    for map_index, value in rows:
        if isinstance(value, (bytes, memoryview)):
            value = bytes(value).decode()
        values[int(map_index)] = json.loads(value) if isinstance(value, str) else value
    return values


def _table_rows(path: Path, dataset: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every user table of ``dataset`` with its rows (dlt's own columns left out), sorted."""
    import duckdb

    connection = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\'",
                [dataset],
            ).fetchall()
        ]
        rows = {}
        for table in tables:
            columns = [
                row[0]
                for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                    "AND column_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\' ORDER BY column_name",
                    [dataset, table],
                ).fetchall()
            ]
            selected = ", ".join(f'"{c}"' for c in columns)
            rows[table] = sorted(
                connection.execute(f'SELECT {selected} FROM "{dataset}"."{table}"').fetchall()
            )
        return rows
    finally:
        connection.close()


def test_mapped_loads_what_serialize_loads(dags_folder, make_conn, tmp_path):
    database = tmp_path / "shop.duckdb"
    conn_id = make_conn("duckdb", host=str(database))
    suffix = uuid.uuid4().hex[:8]
    dag_id = f"mapped_{suffix}"
    # serialize is given the components by name, so neither group calls the factory at parse time
    body = f"""
    kwargs = dict(source=shop, destination_conn_id={conn_id!r}, source_kwargs={{"rows": "{{{{ 1 + 2 }}}}"}})
    DltTaskGroup("serialize", pipeline_name="serialize_{suffix}", dataset_name="serialize", decompose="serialize",
                 resources=["customers", ["orders", "order_events"], "products"], **kwargs)
    DltTaskGroup("mapped", pipeline_name="mapped_{suffix}", dataset_name="mapped", decompose="mapped",
                 expect_rows={{"products": (100, None)}}, **kwargs)
    """
    task_only.CALLS.clear()
    result = run_dag_file(
        dags_folder,
        dag_id,
        body,
        imports="from support.sources.task_only import shop\nfrom airflow_dlt_provider import DltTaskGroup",
        dag_args="max_active_runs=1",
    )

    assert result.state == "success", result.task_states
    # the factory ran only inside tasks: the discover task and each map index (plus the serialize tasks)
    mapped_calls = sorted(call for call in task_only.CALLS if ".mapped." in call)
    assert mapped_calls == [
        f"{dag_id}.mapped.discover[-1]",
        *(f"{dag_id}.mapped.load[{i}]" for i in range(3)),
    ]
    serialized, mapped = _table_rows(database, "serialize"), _table_rows(database, "mapped")
    assert set(mapped) == {"customers", "orders", "orders__lines", "order_events", "products"}
    assert mapped == serialized

    discovered = result.xcom("mapped.discover")
    assert [(c["name"], c["resources"], c["pipeline_name"]) for c in discovered] == [
        ("customers", ["customers"], f"mapped_{suffix}__customers"),
        ("orders", ["orders", "order_events"], f"mapped_{suffix}__orders"),
        ("products", ["products"], f"mapped_{suffix}__products"),
    ]
    summaries = _xcom_by_map_index(dag_id, result.run_id, "mapped.load")
    assert {i: s["rows"] for i, s in summaries.items()} == {
        0: {"customers": 3},
        1: {"orders": 6, "orders__lines": 21, "order_events": 6},
        2: {"products": 6},
    }
    assert {s["pipeline_name"] for s in summaries.values()} == {c["pipeline_name"] for c in discovered}
    # the group's expect_rows reaches every map index; each checks the tables of its own component
    assert [summaries[i]["row_expectations"] for i in (0, 1)] == [{}, {}]
    assert summaries[2]["row_expectations"] == {
        "products": {"rows": 6, "min": 100, "max": None, "status": "below", "action": "warn"}
    }
    names = metadata_rows(
        "SELECT map_index, rendered_map_index FROM task_instance WHERE dag_id = :dag_id AND task_id = 'mapped.load'",
        dag_id=dag_id,
    )
    assert sorted(names) == [(0, "customers"), (1, "orders"), (2, "products")]
    events = asset_events(dag_id, result.run_id)
    mapped_tables = {extra["table"] for extra in events.values() if extra.get("dataset_name") == "mapped"}
    assert mapped_tables == set(mapped)
