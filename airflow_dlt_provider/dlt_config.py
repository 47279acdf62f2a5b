"""How dlt reads its configuration while it runs under Airflow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def airflow_variable_lookups(*, secrets_toml: bool) -> Iterator[None]:
    """Stop dlt from asking Airflow for one Variable per configuration key.

    dlt's Airflow provider looks up an Airflow Variable for every config key and TOML fragment it
    resolves: about 130 metadata-DB or execution-API round trips per task run (seconds of overhead), and
    as many at parse time when a source factory is called to plan a task group. Credentials come from
    Airflow connections here, so inside this context the provider reads at most the ``dlt_secrets_toml``
    Variables (global and pipeline-scoped; ``secrets_toml=True``, used inside tasks) and answers "not
    found" for every other key without a lookup (``secrets_toml=False``: none at all, used while parsing).
    dlt may recreate its provider objects while a pipeline activates, so the lookup method of the provider
    class is wrapped for the duration of the context, then restored.
    """
    try:
        from dlt.common.configuration.providers.airflow import AirflowSecretsTomlProvider
        from dlt.common.configuration.providers.vault import SECRETS_TOML_KEY
    except ImportError:  # pragma: no cover - dlt without the Airflow provider
        yield
        return
    original = AirflowSecretsTomlProvider.__dict__["_look_vault"]

    def look_up_allowed_keys_only(self: Any, full_key: str, hint: type) -> Any:
        if not secrets_toml or full_key.split(".")[-1] != SECRETS_TOML_KEY:
            return None
        return original(self, full_key, hint)

    AirflowSecretsTomlProvider._look_vault = look_up_allowed_keys_only  # type: ignore[method-assign]
    try:
        yield
    finally:
        AirflowSecretsTomlProvider._look_vault = original  # type: ignore[method-assign]
