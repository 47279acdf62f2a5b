"""Small sources and destinations for the observability tests (schema changes, contracts, failed loads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationTerminalException


@dlt.source(name="people")
def people(extra_column: str | None = None, rows: int = 3, tags: int = 0) -> Any:
    """``users`` with ``id`` and ``name``; ``extra_column`` adds one more column (a schema change);
    ``tags`` > 0 gives every user that many tags (the child table ``users__tags``)."""

    @dlt.resource(primary_key="id", write_disposition="merge")
    def users() -> Iterator[dict[str, Any]]:
        for i in range(rows):
            row: dict[str, Any] = {"id": i, "name": f"user {i}"}
            if extra_column:
                row[extra_column] = f"{extra_column} {i}"
            if tags:
                row["tags"] = [f"tag {t}" for t in range(tags)]
            yield row

    return users


@dlt.destination(name="refusing_sink", loader_file_format="typed-jsonl")
def refusing_sink(items: Any, table: Any) -> None:
    """A destination whose ``users`` load job always fails terminally."""
    if table["name"] == "users":
        raise DestinationTerminalException("disk quota exceeded while writing users")


@dlt.source(name="shop")
def shop(rows: int = 3, order_note: bool = False) -> Any:
    """Three independent resources (three components of a ``DltTaskGroup``, one shared pipeline):
    ``customers`` (with the child table ``customers__tags``), ``products`` and ``orders``;
    ``order_note`` adds the column ``note`` to ``orders`` (a schema change)."""

    @dlt.resource(primary_key="id", write_disposition="merge")
    def customers() -> Iterator[dict[str, Any]]:
        yield from ({"id": i, "name": f"customer {i}", "tags": ["new", "vip"]} for i in range(rows))

    @dlt.resource(primary_key="id", write_disposition="merge")
    def products() -> Iterator[dict[str, Any]]:
        yield from ({"id": i, "title": f"product {i}"} for i in range(rows))

    @dlt.resource(primary_key="id", write_disposition="merge")
    def orders() -> Iterator[dict[str, Any]]:
        for i in range(rows):
            row: dict[str, Any] = {"id": i, "amount": 10 * i}
            if order_note:
                row["note"] = f"note {i}"
            yield row

    return customers, products, orders


def _base_notifier() -> type:
    from airflow_dlt_provider._compat import BaseNotifier

    return BaseNotifier  # type: ignore[no-any-return]


class RecordingNotifier(_base_notifier()):  # type: ignore[misc]
    """A real Airflow notifier (``BaseNotifier``) that appends what it got to a JSON-lines file: the rendered
    ``text`` template, the alert in ``context["dlt_alert"]`` and the task id of the context."""

    template_fields = ("text",)

    def __init__(self, path: str, text: str = "{{ dlt_alert.message }}") -> None:
        super().__init__()
        self.path = path
        self.text = text

    def notify(self, context: Any) -> None:
        import json

        record = {"text": self.text, "alert": context["dlt_alert"], "task_id": context["ti"].task_id}
        with open(self.path, "a") as out:
            out.write(json.dumps(record) + "\n")
