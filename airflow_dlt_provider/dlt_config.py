"""How dlt reads its configuration while it runs under Airflow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_dlt_provider import _compat


@contextlib.contextmanager
def airflow_variable_lookups(*, secrets_toml: bool) -> Iterator[None]:
    """Stop dlt from asking Airflow for one Variable per configuration key.

    dlt's Airflow provider looks up an Airflow Variable for every config key and TOML fragment it
    resolves: about 130 metadata-DB or execution-API round trips per task run (seconds of overhead), and
    as many at parse time when a source factory is called to plan a task group. Credentials come from
    Airflow connections here, so inside this context the provider reads at most the ``dlt_secrets_toml``
    Variables (global and pipeline-scoped; ``secrets_toml=True``, used inside tasks) and answers "not
    found" for every other key without a lookup (``secrets_toml=False``: none at all, used while parsing).

    When dlt creates its providers inside this context, it also skips its Airflow probe: dlt imports
    ``airflow.models.TaskInstance`` (with every ORM model) and reads ``dlt_secrets_toml`` once more only to
    log a warning when that Variable is missing; that cost about 1 s per task on the benchmark machine
    (bench/bench_overhead.py). The Variable itself is read with :func:`_compat.variable_get` (the Task
    SDK's execution API inside an Airflow 3 task).

    dlt may recreate its provider objects while a pipeline activates, so the provider class and dlt's
    provider factory are patched for the duration of the context, then restored.
    """
    try:
        from dlt.common.configuration.providers.airflow import AirflowSecretsTomlProvider
        from dlt.common.configuration.providers.vault import SECRETS_TOML_KEY
        from dlt.common.configuration.specs import config_providers_context
    except ImportError:  # pragma: no cover - dlt without the Airflow provider
        yield
        return
    original_look_vault = AirflowSecretsTomlProvider.__dict__["_look_vault"]
    original_factory = getattr(config_providers_context, "_airflow_providers", None)

    def look_up_allowed_keys_only(self: Any, full_key: str, hint: type) -> Any:
        if not secrets_toml or full_key.split(".")[-1] != SECRETS_TOML_KEY:
            return None
        return _compat.variable_get(full_key)

    def airflow_providers_without_probe(settings: Any) -> list[Any]:
        return [AirflowSecretsTomlProvider(**dict(settings))]

    AirflowSecretsTomlProvider._look_vault = look_up_allowed_keys_only  # type: ignore[method-assign]
    if original_factory is not None:
        config_providers_context._airflow_providers = airflow_providers_without_probe
    try:
        yield
    finally:
        AirflowSecretsTomlProvider._look_vault = original_look_vault  # type: ignore[method-assign]
        if original_factory is not None:
            config_providers_context._airflow_providers = original_factory
