"""dlt's log lines reach the task log at their real level (not all as errors through stderr)."""

from __future__ import annotations

import logging
import uuid

from support.dag_runs import duckdb_counts, run_dag_file
from support.sources.warnings_and_config import WARNING_TEXT


def test_dlt_warning_reaches_the_task_log_as_a_warning(dags_folder, caplog, capfd):
    caplog.set_level(logging.INFO)
    pipeline = f"warns_{uuid.uuid4().hex[:8]}"
    result = run_dag_file(
        dags_folder,
        f"dag_{pipeline}",
        f"DltRunOperator(task_id='load', source=warning_source, pipeline_name={pipeline!r}, dataset_name='raw')",
        imports="from support.sources.warnings_and_config import warning_source",
    )
    assert result.state == "success", result.task_states
    assert duckdb_counts(pipeline, "raw") == {"numbers": 3}

    records = [r for r in caplog.records if WARNING_TEXT in r.getMessage()]
    assert records, "the dlt warning did not reach the logging tree"
    assert {r.levelname for r in records} == {"WARNING"}
    assert all(r.name.startswith("dlt") for r in records)
    # and it did not go to stderr through dlt's own handler (Airflow 3 turns stderr into ERROR lines)
    assert WARNING_TEXT not in capfd.readouterr().err


def test_run_summary_is_logged_as_a_table(dags_folder, caplog):
    caplog.set_level(logging.INFO)
    pipeline = f"table_{uuid.uuid4().hex[:8]}"
    run_dag_file(
        dags_folder,
        f"dag_{pipeline}",
        f"DltRunOperator(task_id='load', source=warning_source, pipeline_name={pipeline!r}, dataset_name='raw')",
        imports="from support.sources.warnings_and_config import warning_source",
    )
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("airflow_dlt_provider"))
    assert "numbers" in text and "3" in text
