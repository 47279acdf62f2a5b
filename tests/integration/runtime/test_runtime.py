"""One task's run (runtime.run) against the real embedded DuckDB: destination round trips."""

from __future__ import annotations

import uuid

from github_sample_source import github_sample
from support.dag_runs import duckdb_counts

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.runtime import pipeline_run


def test_each_run_restores_the_pipeline_from_the_destination_once(tmp_path, monkeypatch, sample_counts):
    """The first-run check syncs with the destination; dlt's run() must not do it a second time."""
    from dlt.pipeline.pipeline import Pipeline

    syncs: list[str] = []
    original = Pipeline._sync_destination

    def counting_sync(self, *args, **kwargs):
        syncs.append(self.pipeline_name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_sync_destination", counting_sync)
    pipeline_name = f"syncs_{uuid.uuid4().hex[:8]}"
    summaries = []
    for attempt in range(2):  # a fresh working dir each time, as on a new worker
        request = pipeline_run.RunRequest(
            source=resolve_source_spec(github_sample),
            pipeline_name=pipeline_name,
            dataset_name="raw",
            working_dir=tmp_path / f"run{attempt}",
            run_kwargs={"write_disposition": "replace"},
        )
        summaries.append(pipeline_run.run(request))
    assert syncs == [pipeline_name, pipeline_name]
    assert [s["first_run"] for s in summaries] == [True, False]
    assert duckdb_counts(pipeline_name, "raw") == sample_counts
