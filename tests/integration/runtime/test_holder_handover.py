"""A task that waited for its pipeline's holder works in the pipeline's folder even though the holder removed it.

A task prepares the pipeline's folder (``.pipelines/<pipeline>/<binding>``) and only then waits for the holder
(``pipeline_run._place_for``, then ``_held``); the holder removes the folder after its success
(``_clean_up``). The waiting task then wrote into a folder that no longer existed and failed
(``FileNotFoundError`` on ``.airflow_dlt_binding.json``), seen on a real scheduler with a two-slot pipeline
pool (tests/system/pools/test_scheduler_holders.py). Here the holder's clean-up is replayed between the two steps.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from support.dag_runs import duckdb_counts, run_dag_file

from airflow_dlt_provider.runtime import pipeline_run, workdir


def test_a_folder_removed_while_the_task_waited_for_the_holder_is_prepared_again(
    dags_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = f"handover_{uuid.uuid4().hex[:8]}"
    original = pipeline_run._place_for
    removed: list[Path] = []

    def prepared_then_removed_by_the_previous_holder(request: Any, context: Any) -> Any:
        place = original(request, context)
        assert place.shared and place.working_dir.is_dir()  # the pipeline's own folder, guarded by the holder
        workdir.remove(place.working_dir)
        removed.append(place.working_dir)
        return place

    monkeypatch.setattr(pipeline_run, "_place_for", prepared_then_removed_by_the_previous_holder)
    result = run_dag_file(
        dags_folder,
        f"dag_{pipeline}",
        f"DltRunOperator(task_id='load', source=warning_source, pipeline_name={pipeline!r}, dataset_name='raw', "
        "retries=0)",
        imports="from support.sources.warnings_and_config import warning_source",
    )
    assert removed, "the pipeline's folder was not prepared before the hold"
    assert result.state == "success", result.task_states
    assert duckdb_counts(pipeline, "raw") == {"numbers": 3}
