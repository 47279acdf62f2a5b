"""OpenLineage: output datasets per loaded table with their columns, only when the provider is installed."""

from __future__ import annotations

import sys
import uuid
from types import SimpleNamespace

import pendulum
import pytest
from support.sources.schema_changes import people

from airflow_dlt_provider import DltRunOperator
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS
from airflow_dlt_provider.runtime.workdir import default_duckdb_path

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG


def _operator(pipeline: str) -> DltRunOperator:
    with DAG(
        f"lineage_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
    ):
        return DltRunOperator(
            task_id="load",
            source=people,
            source_kwargs={"rows": 4},
            pipeline_name=pipeline,
            dataset_name="raw",
            emit_assets=False,
        )


def _execute(operator: DltRunOperator) -> dict:
    ti = SimpleNamespace(dag_id=operator.dag_id, task_id=operator.task_id, map_index=-1, try_number=1)
    return operator.execute({"ti": ti, "run_id": f"manual__{uuid.uuid4().hex[:8]}"})


def test_facets_on_complete_list_each_table_with_columns_and_rows():
    pytest.importorskip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")
    from airflow.providers.openlineage.extractors import OperatorLineage

    pipeline = f"lineage_{uuid.uuid4().hex[:8]}"
    operator = _operator(pipeline)
    summary = _execute(operator)
    assert summary["rows"] == {"users": 4}

    lineage = operator.get_openlineage_facets_on_complete(None)
    assert isinstance(lineage, OperatorLineage)
    assert lineage.inputs == []
    [output] = lineage.outputs
    duckdb_file = default_duckdb_path(pipeline).resolve()
    assert output.namespace == f"duckdb://{duckdb_file}"
    assert output.name == f"{duckdb_file.stem}.raw.users"
    fields = {f.name: f.type for f in output.facets["schema"].fields}
    assert fields["id"] == "bigint"
    assert fields["name"] == "text"
    assert "_dlt_load_id" in fields
    assert output.outputFacets["outputStatistics"].rowCount == 4


def test_nothing_breaks_without_the_openlineage_provider(monkeypatch):
    # a None entry in sys.modules makes the import fail, as when the provider is not installed
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    operator = _operator("no_lineage")
    assert operator.get_openlineage_facets_on_complete(None) is None
