"""How dlt reads its configuration while it runs under Airflow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_dlt_provider import _compat


@contextlib.contextmanager
def airflow_variable_lookups(*, secrets_toml: bool, pipeline_name: str | None = None) -> Iterator[None]:
    """Stop dlt from asking Airflow for one Variable per configuration key.

    dlt's Airflow provider looks up an Airflow Variable for every config key and TOML fragment it
    resolves: hundreds of metadata-DB or execution-API round trips per task run (about 600 and 5-6 s for
    the one-resource source of bench/bench_overhead.py), and as many at parse time when a source factory
    is called to plan a task group. Credentials come from Airflow connections here, so inside this
    context:

    - ``secrets_toml=True`` (inside tasks): the provider reads only the ``dlt_secrets_toml`` Variables,
      global and scoped to ``pipeline_name``, once each, when the context opens. When neither exists
      the provider answers "not found" at once for every key, as if dlt ran without it (it is asked
      thousands of times per run);
    - ``secrets_toml=False`` (parse time): it answers "not found" without a lookup. It also records
      nothing, so a task run later in the same process (Airflow 3 parses the DAG file in the task's
      process) still reads the Variables.

    When dlt creates its providers inside this context, it also skips its Airflow probe: dlt imports
    ``airflow.models.TaskInstance`` (with every ORM model) and reads ``dlt_secrets_toml`` once more only to
    log a warning when that Variable is missing. Variables are read with :func:`_compat.variable_get` (the
    Task SDK's execution API inside an Airflow 3 task).

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
    # the names dlt itself asks for: ``dlt_secrets_toml`` and ``<pipeline_name>.dlt_secrets_toml``
    scopes = [(), (pipeline_name,)] if pipeline_name else [()]
    key_names = [AirflowSecretsTomlProvider.get_key_name(SECRETS_TOML_KEY, *scope) for scope in scopes]
    known = {key: _compat.variable_get(key) for key in key_names} if secrets_toml else {}
    has_secrets_toml = any(value is not None for value in known.values())
    inherited_get_value = AirflowSecretsTomlProvider.get_value

    def get_value(self: Any, key: str, hint: type, pipeline_name: str, *sections: str) -> Any:
        if not has_secrets_toml:
            return None, self.get_key_name(key, pipeline_name, *sections)
        return inherited_get_value(self, key, hint, pipeline_name, *sections)

    def look_up_secrets_toml_only(self: Any, full_key: str, hint: type) -> Any:
        if full_key.split(".")[-1] != SECRETS_TOML_KEY:
            return None
        if full_key not in known:  # scoped to another pipeline than the one this task runs
            known[full_key] = _compat.variable_get(full_key)
        return known[full_key]

    def airflow_providers_without_probe(settings: Any) -> list[Any]:
        return [AirflowSecretsTomlProvider(**dict(settings))]

    with contextlib.ExitStack() as patches:
        patches.enter_context(_patched(AirflowSecretsTomlProvider, "get_value", get_value))
        patches.enter_context(_patched(AirflowSecretsTomlProvider, "_look_vault", look_up_secrets_toml_only))
        if hasattr(config_providers_context, "_airflow_providers"):
            patches.enter_context(
                _patched(config_providers_context, "_airflow_providers", airflow_providers_without_probe)
            )
        yield


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``owner.name`` to ``value`` for the block; afterwards restore it (or remove it if it was inherited)."""
    missing = object()
    previous = vars(owner).get(name, missing)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if previous is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)
