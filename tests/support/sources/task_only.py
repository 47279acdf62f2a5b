"""Sources for the ``decompose="mapped"`` tests: a factory that refuses to run outside a task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt

CALLS: list[str] = []
"""One entry per factory call: the task it ran in (``dag_id.task_id[map_index]``)."""


def _current_task() -> str:
    from airflow_dlt_provider._compat import get_current_context

    try:
        ti = get_current_context()["ti"]
    except Exception as error:
        raise AssertionError("the shop factory was called outside a running task (at parse time?)") from error
    return f"{ti.dag_id}.{ti.task_id}[{ti.map_index}]"


@dlt.source(name="shop")
def shop(rows: int | str = 3) -> Any:
    """``customers``, ``orders`` (child table ``orders__lines``) fed into the transformer ``order_events``,
    and ``products``: three components, one of them a resource with its transformer."""
    CALLS.append(_current_task())
    rows = int(rows)  # a rendered template arrives as a string

    @dlt.resource(primary_key="id", write_disposition="merge")
    def customers() -> Iterator[dict[str, Any]]:
        yield from ({"id": i, "name": f"c{i}"} for i in range(rows))

    @dlt.resource(primary_key="id", write_disposition="merge")
    def orders() -> Iterator[dict[str, Any]]:
        yield from ({"id": i, "lines": [{"sku": f"s{j}"} for j in range(i + 1)]} for i in range(rows * 2))

    @dlt.transformer(data_from=orders, primary_key="id", write_disposition="merge")
    def order_events(order: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {"id": order["id"], "event": "created"}

    @dlt.resource(primary_key="sku", write_disposition="merge")
    def products() -> Iterator[dict[str, Any]]:
        yield from ({"sku": f"s{j}", "price": j} for j in range(rows * 2))

    return customers, orders, order_events, products
