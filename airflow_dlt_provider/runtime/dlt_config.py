"""How dlt reads its configuration while it runs under Airflow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_dlt_provider import _compat, _dlt_internals


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
    provider factory are patched for the duration of the context, then restored (``_dlt_internals.
    airflow_secrets_provider_patched``).
    """
    key_names = _dlt_internals.airflow_secrets_toml_key_names(pipeline_name)
    provider_class = _dlt_internals.airflow_secrets_provider_class()
    if key_names is None or provider_class is None:  # pragma: no cover - dlt without the Airflow provider
        yield
        return
    secrets_toml_key = key_names[0].split(".")[
        -1
    ]  # ``dlt_secrets_toml``: the last part of every name dlt asks for
    known = {key: _compat.variable_get(key) for key in key_names} if secrets_toml else {}
    has_secrets_toml = any(value is not None for value in known.values())
    inherited_get_value = provider_class.get_value

    def get_value(self: Any, key: str, hint: type, pipeline_name: str, *sections: str) -> Any:
        if not has_secrets_toml:
            return None, self.get_key_name(key, pipeline_name, *sections)
        return inherited_get_value(self, key, hint, pipeline_name, *sections)

    def look_up_secrets_toml_only(self: Any, full_key: str, hint: type) -> Any:
        if full_key.split(".")[-1] != secrets_toml_key:
            return None
        if full_key not in known:  # scoped to another pipeline than the one this task runs
            known[full_key] = _compat.variable_get(full_key)
        return known[full_key]

    def airflow_providers_without_probe(settings: Any) -> list[Any]:
        return [provider_class(**dict(settings))]

    with _dlt_internals.airflow_secrets_provider_patched(
        get_value, look_up_secrets_toml_only, airflow_providers_without_probe
    ):
        yield
