"""A task's whole dlt run happens inside ``frame_stack.call_with_headroom`` (a real run into DuckDB)."""

from __future__ import annotations

import uuid
from typing import Any

import dlt

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.runtime import frame_stack, pipeline_run


def test_a_task_runs_dlt_with_headroom(tmp_path):
    """The task's dlt run (extract, normalize, load) happens inside ``call_with_headroom``."""
    seen: list[bool] = []

    @dlt.source(name="headroom")
    def headroom_source() -> Any:
        @dlt.resource(name="items")
        def items() -> Any:
            seen.append(frame_stack.has_headroom())
            yield [{"id": i} for i in range(10)]

        return items

    request = pipeline_run.RunRequest(
        source=resolve_source_spec(headroom_source),
        pipeline_name=f"headroom_{uuid.uuid4().hex[:8]}",
        dataset_name="raw",
        working_dir=tmp_path,
    )
    summary = pipeline_run.run(request)
    assert summary["rows"] == {"items": 10}
    assert seen == [True]
