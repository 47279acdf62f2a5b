"""The read side of the UI: dlt tasks' XCom summaries -> pipelines and their runs, as plain dataclasses.

A run of a pipeline is a DAG run: the summaries of all its dlt tasks of that pipeline in one DAG run (several
tasks of a group, map indexes of a mapped task) add up to one run. Only what a summary holds is shown: rows,
columns and their types, schema changes, load ids, row expectations; nothing from a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "PipelineDetail",
    "PipelineOverview",
    "PipelineRun",
    "TaskRef",
    "fetch_summaries",
    "pipeline_detail",
    "pipelines",
]

RECENT_RUNS = 30  # runs kept per pipeline on the detail page and chart
XCOM_ROW_LIMIT = 5000  # dlt task summaries read at most per request (newest DAG runs first)


@dataclass(frozen=True)
class TaskRef:
    """One dlt task instance that contributed to a run."""

    task_id: str
    map_index: int


@dataclass
class PipelineRun:
    """What one DAG run loaded through one pipeline (its dlt tasks' summaries added up)."""

    pipeline_name: str
    dag_id: str
    run_id: str
    state: str | None
    run_after: datetime | None
    started_at: str | None = None
    finished_at: str | None = None
    destination: str | None = None
    dataset_name: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    new_tables: list[str] = field(default_factory=list)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    load_ids: list[str] = field(default_factory=list)
    row_expectations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[TaskRef] = field(default_factory=list)

    @property
    def has_schema_change(self) -> bool:
        return bool(self.new_tables or self.new_columns)

    def add(self, task: TaskRef, summary: Mapping[str, Any]) -> None:
        """Add one task's summary to this run."""
        self.tasks.append(task)
        self.destination = self.destination or _text(summary.get("destination"))
        self.dataset_name = self.dataset_name or _text(summary.get("dataset_name"))
        self.started_at = _earliest(self.started_at, _text(summary.get("started_at")))
        self.finished_at = _latest(self.finished_at, _text(summary.get("finished_at")))
        for table, count in _mapping(summary.get("rows")).items():
            self.rows[str(table)] = self.rows.get(str(table), 0) + _int(count)
        for table, columns in _mapping(summary.get("columns")).items():
            self.columns.setdefault(str(table), {}).update(
                {str(name): str(kind) for name, kind in _mapping(columns).items()}
            )
        changes = _mapping(summary.get("schema_changes"))
        _extend_unique(self.new_tables, changes.get("new_tables"))
        for table, columns in _mapping(changes.get("new_columns")).items():
            _extend_unique(self.new_columns.setdefault(str(table), []), columns)
        _extend_unique(self.load_ids, summary.get("load_ids"))
        for table, expectation in _mapping(summary.get("row_expectations")).items():
            if isinstance(expectation, Mapping):
                self.row_expectations[str(table)] = _expectation(expectation)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_after"] = self.run_after.isoformat() if self.run_after else None
        data["tasks"] = [asdict(task) for task in self.tasks]
        data["rows"] = dict(sorted(self.rows.items()))
        return data


@dataclass
class PipelineOverview:
    """One line of the pipelines list: the pipeline and its last run."""

    pipeline_name: str
    dag_id: str
    last_run: PipelineRun
    runs_recorded: int

    def as_json(self) -> dict[str, Any]:
        last = self.last_run
        return {
            "pipeline_name": self.pipeline_name,
            "dag_id": self.dag_id,
            "destination": last.destination,
            "dataset_name": last.dataset_name,
            "last_run": {
                "run_id": last.run_id,
                "run_after": last.run_after.isoformat() if last.run_after else None,
                "state": last.state,
                "started_at": last.started_at,
                "finished_at": last.finished_at,
            },
            "rows": dict(sorted(last.rows.items())),
            "runs_recorded": self.runs_recorded,
        }


@dataclass
class PipelineDetail:
    """A pipeline with its recent runs (newest first) and its tables as the newest runs describe them."""

    overview: PipelineOverview
    runs: list[PipelineRun]

    @property
    def tables(self) -> dict[str, dict[str, str]]:
        """``{table: {column: type}}``: each table as the newest run that loaded it left it."""
        tables: dict[str, dict[str, str]] = {}
        for run in self.runs:  # newest first: the first run naming a table wins
            for table, columns in run.columns.items():
                tables.setdefault(table, dict(columns))
            for table in run.rows:
                tables.setdefault(table, {})
        return dict(sorted(tables.items()))

    @property
    def schema_changes(self) -> list[PipelineRun]:
        return [run for run in self.runs if run.has_schema_change]

    def as_json(self) -> dict[str, Any]:
        return {
            **self.overview.as_json(),
            "tables": [
                {"name": table, "columns": [{"name": n, "data_type": t} for n, t in columns.items()]}
                for table, columns in self.tables.items()
            ],
            "runs": [run.as_json() for run in self.runs],
            "schema_changes": [
                {
                    "run_id": run.run_id,
                    "run_after": run.run_after.isoformat() if run.run_after else None,
                    "new_tables": run.new_tables,
                    "new_columns": run.new_columns,
                }
                for run in self.schema_changes
            ],
        }


def fetch_summaries(dag_ids: set[str]) -> list[dict[str, Any]]:
    """dlt task summaries of the readable DAGs from the metadata DB, newest DAG run first."""
    from airflow_dlt_provider.plugins.queries import dlt_task_summaries

    return dlt_task_summaries(dag_ids, XCOM_ROW_LIMIT)


def is_summary(value: Any) -> bool:
    """Whether an XCom value is a dlt load summary (a user's dlt-named operator may return anything)."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("pipeline_name"), str)
        and isinstance(value.get("rows"), Mapping)
    )


def group_runs(records: Iterable[Mapping[str, Any]]) -> dict[str, list[PipelineRun]]:
    """``{pipeline_name: runs}``; records come newest DAG run first and runs keep that order."""
    runs: dict[tuple[str, str, str], PipelineRun] = {}
    for record in records:
        summary = record["value"]
        if not is_summary(summary):
            continue
        key = (summary["pipeline_name"], str(record["dag_id"]), str(record["run_id"]))
        run = runs.get(key)
        if run is None:
            run = runs[key] = PipelineRun(
                pipeline_name=key[0],
                dag_id=key[1],
                run_id=key[2],
                state=record.get("run_state"),
                run_after=record.get("run_after"),
            )
        run.add(TaskRef(str(record["task_id"]), _int(record.get("map_index", -1))), summary)
    by_pipeline: dict[str, list[PipelineRun]] = {}
    for run in runs.values():
        by_pipeline.setdefault(run.pipeline_name, []).append(run)
    return by_pipeline


def pipelines(records: Iterable[Mapping[str, Any]]) -> list[PipelineOverview]:
    """Every pipeline with its last run, sorted by name."""
    return [
        PipelineOverview(name, runs[0].dag_id, runs[0], len(runs))
        for name, runs in sorted(group_runs(records).items())
    ]


def pipeline_detail(records: Iterable[Mapping[str, Any]], pipeline_name: str) -> PipelineDetail | None:
    """The pipeline ``pipeline_name`` with its most recent runs, or ``None`` when no run of it is recorded."""
    runs = group_runs(records).get(pipeline_name)
    if not runs:
        return None
    overview = PipelineOverview(pipeline_name, runs[0].dag_id, runs[0], len(runs))
    return PipelineDetail(overview, runs[:RECENT_RUNS])


# ---------------------------------------------------------------- tolerant readers (XCom is user-writable)


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _optional_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _expectation(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rows": _int(value.get("rows")),
        "min": _optional_int(value.get("min")),
        "max": _optional_int(value.get("max")),
        "status": _text(value.get("status")),
        "action": _text(value.get("action")),
    }


def _extend_unique(target: list[str], values: Any) -> None:
    if isinstance(values, (list, tuple)):
        target.extend(str(v) for v in values if str(v) not in target)


def _earliest(current: str | None, other: str | None) -> str | None:
    return min(x for x in (current, other) if x) if (current or other) else None


def _latest(current: str | None, other: str | None) -> str | None:
    return max(x for x in (current, other) if x) if (current or other) else None
