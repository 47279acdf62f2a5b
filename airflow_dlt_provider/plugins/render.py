"""Server-rendered HTML of the ``/dlt`` pages, with an inline SVG chart: no script, no network, no build step.

Every value that reaches the page passes through :func:`esc` (pipeline, table, column and run ids are
untrusted: any DAG author or source picks them).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from airflow_dlt_provider.plugins.read import PipelineDetail, PipelineOverview, PipelineRun, TaskRef

__all__ = ["Links", "esc", "pipeline_page", "pipelines_page", "rows_chart"]

PALETTE = ("#017cee", "#e6550d", "#31a354", "#756bb1", "#d6616b", "#8c6d31", "#3182bd", "#e377c2")
CHART_WIDTH, CHART_HEIGHT, MARGIN = 760, 280, 48

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1f2933}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid #d9dee3;padding:.35rem .7rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}a{color:#0b5cad}
.state{padding:.1rem .45rem;border-radius:.6rem;font-size:.85em;background:#e4e7eb}
.state-success{background:#c9f2d0}.state-failed{background:#ffd1d1}.state-running{background:#d4ebff}
.muted{color:#66727f}.bad{color:#b42318;font-weight:600}code{font-size:.9em}
.legend span{display:inline-block;margin-right:1rem}.swatch{display:inline-block;width:.8rem;height:.8rem;
margin-right:.3rem;border-radius:.2rem;vertical-align:middle}
"""


def esc(value: object) -> str:
    """HTML-escape any value (text and attribute values alike)."""
    return html.escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class Links:
    """URLs of the pages: ``dlt_root`` is where the plugin is mounted, ``airflow_root`` Airflow's UI root."""

    dlt_root: str
    airflow_root: str

    def pipeline(self, pipeline_name: str) -> str:
        return f"{self.dlt_root}/pipelines/{quote(pipeline_name, safe='')}"

    def pipelines(self) -> str:
        return f"{self.dlt_root}/"

    def dag(self, dag_id: str) -> str:
        return f"{self.airflow_root}/dags/{quote(dag_id, safe='')}"

    def run(self, run: PipelineRun) -> str:
        return f"{self.dag(run.dag_id)}/runs/{quote(run.run_id, safe='')}"

    def task(self, run: PipelineRun, task: TaskRef) -> str:
        mapped = f"/mapped/{task.map_index}" if task.map_index >= 0 else ""
        return f"{self.run(run)}/tasks/{quote(task.task_id, safe='')}{mapped}"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _link(href: str, text: object, top: bool = False) -> str:
    target = ' target="_top"' if top else ""  # Airflow pages leave the plugin's iframe
    return f'<a href="{esc(href)}"{target}>{esc(text)}</a>'


def _state(state: str | None) -> str:
    return f'<span class="state state-{esc(state)}">{esc(state or "unknown")}</span>'


def _when(run: PipelineRun) -> str:
    return esc(run.run_after.strftime("%Y-%m-%d %H:%M:%S UTC") if run.run_after else run.started_at)


def _rows_cell(rows: dict[str, int]) -> str:
    if not rows:
        return '<span class="muted">no rows</span>'
    return "<br>".join(f"{esc(table)}: {count:,}" for table, count in sorted(rows.items()))


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], css_id: str) -> str:
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{esc(css_id)}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


# ---------------------------------------------------------------- the list


def pipelines_page(overviews: Sequence[PipelineOverview], links: Links) -> str:
    if not overviews:
        body = (
            '<p class="muted" id="empty">No dlt pipeline run is recorded yet (or none of a DAG you may read). '
            "Runs appear here once a dlt task has finished and returned its load summary.</p>"
        )
    else:
        body = _table(
            (
                "Pipeline",
                "DAG",
                "Last run",
                "State",
                "Destination",
                "Dataset",
                "Rows of the last run",
                "Runs",
            ),
            (
                (
                    _link(links.pipeline(o.pipeline_name), o.pipeline_name),
                    _link(links.dag(o.dag_id), o.dag_id, top=True),
                    _link(links.run(o.last_run), _when(o.last_run), top=True),
                    _state(o.last_run.state),
                    esc(o.last_run.destination),
                    esc(o.last_run.dataset_name),
                    _rows_cell(o.last_run.rows),
                    f'<span class="num">{o.runs_recorded}</span>',
                )
                for o in overviews
            ),
            "pipelines",
        )
    return _page("dlt pipelines", f"<h1>dlt pipelines</h1>{body}")


# ---------------------------------------------------------------- one pipeline


def rows_chart(runs_newest_first: Sequence[PipelineRun]) -> str:
    """Inline SVG: rows per table over the runs (oldest left), one line and one point per run and table."""
    runs = list(reversed(runs_newest_first))
    tables = sorted({table for run in runs for table in run.rows})
    if not runs or not tables:
        return '<p class="muted" id="rows-chart">No rows loaded in the recorded runs.</p>'
    top = max(max(run.rows.values(), default=0) for run in runs) or 1
    plot_w, plot_h = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - 2 * MARGIN

    def x(i: int) -> float:
        return MARGIN + (plot_w / 2 if len(runs) == 1 else i * plot_w / (len(runs) - 1))

    def y(count: int) -> float:
        return MARGIN + plot_h - count * plot_h / top

    parts = [
        f'<line x1="{MARGIN}" y1="{MARGIN + plot_h}" x2="{MARGIN + plot_w}" y2="{MARGIN + plot_h}" stroke="#999"/>',
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{MARGIN + plot_h}" stroke="#999"/>',
        f'<text x="{MARGIN - 6}" y="{MARGIN + 4}" text-anchor="end" font-size="11">{top:,}</text>',
        f'<text x="{MARGIN - 6}" y="{MARGIN + plot_h + 4}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, run in enumerate(runs):
        parts.append(
            f'<text x="{x(i):.1f}" y="{MARGIN + plot_h + 16}" text-anchor="middle" font-size="10">'
            f"{esc(run.run_after.strftime('%m-%d %H:%M') if run.run_after else i + 1)}</text>"
        )
    for n, table in enumerate(tables):
        color = PALETTE[n % len(PALETTE)]
        points = [(x(i), y(run.rows.get(table, 0)), run) for i, run in enumerate(runs)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        parts.extend(
            f'<circle class="point" data-table="{esc(table)}" data-run-id="{esc(run.run_id)}" '
            f'cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}">'
            f"<title>{esc(table)}: {run.rows.get(table, 0):,} rows ({esc(run.run_id)})</title></circle>"
            for px, py, run in points
        )
    legend = "".join(
        f'<span><i class="swatch" style="background:{PALETTE[n % len(PALETTE)]}"></i>{esc(t)}</span>'
        for n, t in enumerate(tables)
    )
    return (
        f'<svg id="rows-chart" role="img" aria-label="rows per table over recent runs" '
        f'width="{CHART_WIDTH}" height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">'
        f'{"".join(parts)}</svg><div class="legend">{legend}</div>'
    )


def _expectations(run: PipelineRun) -> str:
    if not run.row_expectations:
        return ""
    rows = []
    for table, e in sorted(run.row_expectations.items()):
        bounds = f"{esc(e['min'] if e['min'] is not None else '-')} .. {esc(e['max'] if e['max'] is not None else '-')}"
        status = esc(e["status"])
        status = status if e["status"] == "ok" else f'<span class="bad">{status} ({esc(e["action"])})</span>'
        rows.append((esc(table), f"{e['rows']:,}", bounds, status))
    return "<h2>Row expectations (last run)</h2>" + _table(
        ("Table", "Rows", "Expected", "Status"), rows, "row-expectations"
    )


def _schema(detail: PipelineDetail) -> str:
    tables = detail.tables
    if not tables:
        return '<p class="muted">No table recorded yet.</p>'
    rows = (
        (
            f"<code>{esc(table)}</code>",
            "<br>".join(
                f"<code>{esc(name)}</code> <span class='muted'>{esc(kind)}</span>"
                for name, kind in cols.items()
            )
            or '<span class="muted">columns not recorded</span>',
        )
        for table, cols in tables.items()
    )
    return _table(("Table", "Columns"), rows, "schema")


def _changes(detail: PipelineDetail, links: Links) -> str:
    changes = detail.schema_changes
    if not changes:
        return '<p class="muted" id="schema-changes">No schema change in the recorded runs.</p>'
    rows = (
        (
            _link(links.run(run), _when(run), top=True),
            ", ".join(f"<code>{esc(t)}</code>" for t in run.new_tables) or "-",
            "<br>".join(
                f"<code>{esc(t)}</code>: " + ", ".join(f"<code>{esc(c)}</code>" for c in cols)
                for t, cols in sorted(run.new_columns.items())
                if t not in run.new_tables
            )
            or "-",
        )
        for run in changes
    )
    return _table(("Run", "New tables", "New columns of existing tables"), rows, "schema-changes")


def _runs(detail: PipelineDetail, links: Links) -> str:
    rows = (
        (
            _link(links.run(run), _when(run), top=True),
            _state(run.state),
            _rows_cell(run.rows),
            "<br>".join(_link(links.task(run, t), _task_label(t), top=True) for t in run.tasks),
            "<br>".join(f"<code>{esc(load_id)}</code>" for load_id in run.load_ids) or "-",
        )
        for run in detail.runs
    )
    return _table(("Run", "State", "Rows", "Tasks (Grid)", "Load ids"), rows, "runs")


def _task_label(task: TaskRef) -> str:
    return task.task_id if task.map_index < 0 else f"{task.task_id} [{task.map_index}]"


def pipeline_page(detail: PipelineDetail, links: Links) -> str:
    o = detail.overview
    last = o.last_run
    head = (
        f"<p>{_link(links.pipelines(), '< all dlt pipelines')}</p>"
        f'<h1>dlt pipeline <code id="pipeline-name">{esc(o.pipeline_name)}</code></h1>'
        f"<p>DAG {_link(links.dag(o.dag_id), o.dag_id, top=True)} &middot; destination "
        f"<code>{esc(last.destination)}</code> &middot; dataset <code>{esc(last.dataset_name)}</code> &middot; "
        f"last run {_link(links.run(last), _when(last), top=True)} {_state(last.state)}</p>"
    )
    body = (
        f"{head}<h2>Rows per table over the last {len(detail.runs)} run(s)</h2>{rows_chart(detail.runs)}"
        f"{_expectations(last)}<h2>Schema</h2>{_schema(detail)}<h2>Schema changes</h2>{_changes(detail, links)}"
        f"<h2>Runs</h2>{_runs(detail, links)}"
    )
    return _page(f"dlt pipeline {o.pipeline_name}", body)
