"""A tiny source whose resource emits a dlt warning (used by the task-log tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.common import logger

WARNING_TEXT = "sample-warning-from-dlt-resource"


@dlt.source(name="warns")
def warning_source() -> Any:
    @dlt.resource
    def numbers() -> Iterator[dict[str, int]]:
        logger.warning(WARNING_TEXT)
        yield from ({"n": i} for i in range(3))

    return numbers


@dlt.source(name="secretive")
def secret_config_source(greeting: str = dlt.secrets.value) -> Any:
    """Takes its ``greeting`` from dlt config (e.g. the ``dlt_secrets_toml`` Airflow Variable)."""

    @dlt.resource
    def greetings() -> Iterator[dict[str, str]]:
        yield {"greeting": greeting}

    return greetings


@dlt.source(name="greeter")
def greeting_with_default_source(greeting: str = "default greeting") -> Any:
    """Callable at parse time (the argument has a default); dlt config may override ``greeting``."""

    @dlt.resource
    def greetings() -> Iterator[dict[str, str]]:
        yield {"greeting": greeting}

    return greetings
