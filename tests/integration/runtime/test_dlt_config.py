"""dlt configuration inside a task: the ``dlt_secrets_toml`` Airflow Variable is still honoured.

Runs ``airflow dags test`` in a fresh process, as a worker would: dlt keeps its config providers and
their Variable lookups for the life of a process, so earlier tests of this session must not be in it.
"""

from __future__ import annotations

import uuid

from support import TESTS_DIR
from support.dag_runs import airflow_dags_test, write_dag

from airflow_dlt_provider.runtime.workdir import default_duckdb_path


def _greetings_loaded(dags_folder, pipeline: str, body: str, imports: str, secrets_toml: str) -> list:
    """Run a one-DAG file with ``airflow dags test`` and the ``dlt_secrets_toml`` Variable set; the rows loaded."""
    import duckdb

    dag_id = f"dag_{pipeline}"
    path = write_dag(dags_folder, dag_id, body, imports=imports)
    try:
        completed = airflow_dags_test(dag_id, str(TESTS_DIR), {"AIRFLOW_VAR_DLT_SECRETS_TOML": secrets_toml})
    finally:
        path.unlink()
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with duckdb.connect(str(default_duckdb_path(pipeline)), read_only=True) as con:
        return con.execute("SELECT greeting FROM raw.greetings").fetchall()


def test_dlt_secrets_toml_variable_reaches_the_source(dags_folder):
    marker = f"hello-{uuid.uuid4().hex[:6]}"
    pipeline = f"config_{uuid.uuid4().hex[:8]}"
    loaded = _greetings_loaded(
        dags_folder,
        pipeline,
        f"DltRunOperator(task_id='load', source=secret_config_source, pipeline_name={pipeline!r}, dataset_name='raw')",
        imports="from support.sources.warnings_and_config import secret_config_source",
        secrets_toml=f'[sources]\ngreeting = "{marker}"\n',
    )
    assert loaded == [(marker,)]


def test_dlt_secrets_toml_reaches_a_task_whose_dag_file_called_the_factory_at_parse_time(dags_folder):
    """DltTaskGroup calls the factory while the DAG file is parsed, in the same process that runs the task.

    That parse-time call must not leave dlt believing the ``dlt_secrets_toml`` Variable was already read.
    """
    marker = f"hello-{uuid.uuid4().hex[:6]}"
    pipeline = f"config_tg_{uuid.uuid4().hex[:8]}"
    loaded = _greetings_loaded(
        dags_folder,
        pipeline,
        f"DltTaskGroup('greet', source=greeting_with_default_source, pipeline_name={pipeline!r}, "
        "dataset_name='raw', decompose='serialize')",
        imports="from airflow_dlt_provider import DltTaskGroup\nfrom support.sources.warnings_and_config import greeting_with_default_source",
        secrets_toml=f'[sources.greeter]\ngreeting = "{marker}"\n',
    )
    assert loaded == [(marker,)]


def test_dlt_builds_its_airflow_provider_without_the_probe_inside_the_context(monkeypatch):
    """dlt's probe imports every Airflow ORM model and reads a Variable only to log a warning; it is skipped."""
    from airflow.models import Variable
    from dlt.common.configuration.providers.airflow import AirflowSecretsTomlProvider
    from dlt.common.configuration.specs import config_providers_context
    from dlt.common.configuration.specs.config_providers_context import VaultProviderConfiguration

    from airflow_dlt_provider.runtime.dlt_config import airflow_variable_lookups

    def probe_would_read_a_variable(*args, **kwargs):
        raise AssertionError("dlt's probe read an Airflow Variable")

    monkeypatch.setattr(Variable, "get", probe_would_read_a_variable)
    original = config_providers_context._airflow_providers
    with airflow_variable_lookups(secrets_toml=False):
        providers = config_providers_context._airflow_providers(VaultProviderConfiguration())
    assert [type(p) for p in providers] == [AirflowSecretsTomlProvider]
    assert config_providers_context._airflow_providers is original  # restored after the context
