"""Small sources for the hardening tests (names, paths, kept state, configuration)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import dlt

SECRET_IN_ERROR = "S3cr3t-pw-in-an-exception"


@dlt.source(name="tagged")
def tagged(tag: str = "a", rows: int = 3) -> Any:
    """``items``: ``rows`` rows carrying ``tag`` (replace), so two pipelines' rows can be told apart."""

    @dlt.resource(write_disposition="replace")
    def items() -> Iterator[dict[str, Any]]:
        yield from ({"id": i, "tag": tag} for i in range(rows))

    return items


@dlt.source(name="flaky")
def flaky(fail_flag: str = "") -> Any:
    """``things``: fails before yielding while the file ``fail_flag`` exists, with a password in the error."""

    @dlt.resource(write_disposition="append")
    def things() -> Iterator[dict[str, Any]]:
        if fail_flag and os.path.exists(fail_flag):
            raise ConnectionError(f"could not connect: password={SECRET_IN_ERROR} refused by host")
        yield from ({"id": i} for i in range(4))

    return things


@dlt.source(name="two_tables")
def two_tables(rows: int = 3) -> Any:
    """Two independent resources (two components): ``alpha`` and ``beta``."""

    @dlt.resource(write_disposition="append")
    def alpha() -> Iterator[dict[str, Any]]:
        yield from ({"id": i} for i in range(rows))

    @dlt.resource(write_disposition="append")
    def beta() -> Iterator[dict[str, Any]]:
        yield from ({"id": i} for i in range(rows))

    return alpha, beta
