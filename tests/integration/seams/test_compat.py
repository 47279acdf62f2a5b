"""Contract tests of ``airflow_dlt_provider._compat``: one per entry, each naming the entry when it breaks.

``_compat`` is the only module that knows where Airflow 2 and 3 keep things and the only one that reaches
Airflow internals (one accessor each; the code that uses one lives beside its caller). An accessor's test
asserts what its caller relies on: the attributes, columns and parameters it uses. When a new Airflow release
moves or changes one of them, the test of that entry fails with ``Airflow <version> broke _compat.<entry>``.
Runs on the newest Airflow 3, on Airflow 2.11 and on the oldest supported Airflow.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from airflow_dlt_provider import _compat
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, AIRFLOW_VERSION

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG
else:
    from airflow import DAG

AIRFLOW_VERSION_TUPLE = tuple(int(part) for part in AIRFLOW_VERSION.split(".")[:2])


@contextlib.contextmanager
def contract(entry: str) -> Iterator[None]:
    """Turn any failure inside the block into one that names the ``_compat`` entry and the Airflow version."""
    try:
        yield
    except Exception as error:
        pytest.fail(
            f"Airflow {AIRFLOW_VERSION} broke _compat.{entry}: {type(error).__name__}: {error}", pytrace=False
        )


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))


# ---------------------------------------------------------------- names routed by common-compat


def test_common_compat_names():
    with contract("Asset/AssetAlias/BaseHook/BaseOperator/TaskGroup (common-compat)"):
        asset = _compat.Asset("dlt://contract/table")
        assert asset.uri == "dlt://contract/table"
        assert _compat.AssetAlias("dlt_contract").name == "dlt_contract"
        assert callable(_compat.BaseHook.get_connection)
        assert callable(_compat.get_current_context)
        with _dag("compat_names"), _compat.TaskGroup("group") as group:
            task = _compat.BaseOperator(task_id="t")
        assert task.task_id == "group.t" and group.group_id == "group"


def test_parse_time_names_are_the_ones_common_compat_routes():
    """The names a parse needs are imported directly (cheaper), from where common-compat routes them."""
    from airflow.providers.common.compat import sdk

    with contract(
        "Asset/AssetAlias/BaseOperator/BaseOperatorLink/TaskGroup (where common-compat routes them)"
    ):
        assert _compat.Asset is sdk.Asset
        assert _compat.AssetAlias is sdk.AssetAlias
        assert _compat.BaseOperator is sdk.BaseOperator
        assert _compat.BaseOperatorLink is sdk.BaseOperatorLink
        assert _compat.TaskGroup is sdk.TaskGroup


# ---------------------------------------------------------------- secrets masking


def test_mask_secret_and_redact():
    with contract("mask_secret/redact"):
        _compat.mask_secret("contract-secret-1f3a9")
        redacted = str(_compat.redact("password is contract-secret-1f3a9"))
        assert "contract-secret-1f3a9" not in redacted, redacted


def test_core_secrets_masker():
    with contract("_core_secrets_masker (airflow._shared.secrets_masker._secrets_masker)"):
        core = _compat._core_secrets_masker()
        if AIRFLOW_VERSION_TUPLE < (3, 1):
            assert core is None, "Airflow before 3.1 has no separate core masker"
            return
        assert core is not None, "airflow._shared.secrets_masker._secrets_masker is gone"
        _compat.mask_secret("contract-core-secret-8c2d")
        assert "contract-core-secret-8c2d" not in str(core.redact("x contract-core-secret-8c2d x"))


# ---------------------------------------------------------------- exceptions


def test_airflow_fail_exception():
    with contract("airflow_fail_exception"):
        error = _compat.airflow_fail_exception()
        assert issubclass(error, Exception) and error.__name__ == "AirflowFailException"


def test_duplicate_task_id_error():
    with contract("duplicate_task_id_error"):
        duplicate = _compat.duplicate_task_id_error()
        with _dag("compat_duplicate"), pytest.raises(duplicate):
            _compat.BaseOperator(task_id="same")
            _compat.BaseOperator(task_id="same")


# ---------------------------------------------------------------- configuration, connections, variables


def test_conf_get(monkeypatch):
    with contract("conf_get"):
        monkeypatch.setenv("AIRFLOW__DLT__CONTRACT_OPTION", "from-env")
        assert _compat.conf_get("dlt", "contract_option") == "from-env"
        assert _compat.conf_get("dlt", "not_set_anywhere", fallback="fb") == "fb"
        assert _compat.conf_get("core", "dags_folder")


def test_object_storage_path(tmp_path):
    with contract("object_storage_path"):
        root = _compat.object_storage_path(f"file://{tmp_path}")
        target = root / "a" / "b.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            handle.write(b"x")
        moved = root / "a" / "c.txt"
        target.rename(moved)
        assert (tmp_path / "a" / "c.txt").read_bytes() == b"x"
        assert sorted(p.name for p in (root / "a").iterdir()) == ["c.txt"]
        moved.unlink()
        assert not moved.exists()


def test_secrets_backends(monkeypatch):
    with contract("secrets_backends (ensure_secrets_backend_loaded / ensure_secrets_loaded)"):
        backends = _compat.secrets_backends()
        assert type(backends[0]).__name__ == "EnvironmentVariablesBackend", backends
        monkeypatch.setenv("AIRFLOW_CONN_COMPAT_BROKEN", "{not json")
        with pytest.raises(ValueError):  # the parse error that BaseHook.get_connection swallows
            backends[0].get_connection(conn_id="compat_broken")


def test_in_supervised_process():
    with contract("_in_supervised_process (task_runner.SUPERVISOR_COMMS)"):
        assert _compat._in_supervised_process() is False
        if not AIRFLOW_V_3_0_PLUS:
            return
        import airflow.sdk.execution_time.task_runner as task_runner

        declared = set(vars(task_runner)) | set(getattr(task_runner, "__annotations__", {}))
        assert "SUPERVISOR_COMMS" in declared, "task_runner.SUPERVISOR_COMMS is gone"


def test_variable_get_and_set():
    with contract("variable_get/variable_set"):
        assert _compat.variable_get("dlt_compat_missing") is None
        _compat.variable_set("dlt_compat_key", "value-1", description="contract test")
        assert _compat.variable_get("dlt_compat_key") == "value-1"


# ---------------------------------------------------------------- authoring


def test_current_dag():
    with contract("current_dag (DagContext)"):
        assert _compat.current_dag() is None
        with _dag("compat_current") as dag:
            assert _compat.current_dag() is dag
        explicit = _dag("compat_explicit")
        assert _compat.current_dag(explicit) is explicit


def test_airflow_cli_classes():
    with contract("airflow_cli_classes (airflow.cli.cli_config)"):
        action_command, arg, group_command = _compat.airflow_cli_classes()
        option = arg(("--flag",), action="store_true", help="h")
        command = action_command(name="sync", help="h", func=lambda args: None, args=(option,))
        group = group_command(name="dlt", help="h", subcommands=(command,))
        assert group.name == "dlt" and group.subcommands[0].name == "sync"


# ---------------------------------------------------------------- DAG folders, dag.test()


def test_dag_bag(tmp_path):
    with contract("dag_bag (DagBag)"):
        dag_import = "from airflow.sdk import DAG" if AIRFLOW_V_3_0_PLUS else "from airflow import DAG"
        (tmp_path / "compat_bag.py").write_text(f'{dag_import}\n\ndag = DAG("compat_bag", schedule=None)\n')
        (tmp_path / "broken.py").write_text(
            "# an airflow DAG file\nimport module_that_does_not_exist_anywhere\n"
        )
        bag = _compat.dag_bag(str(tmp_path))
        assert "compat_bag" in bag.dags
        assert any("broken.py" in str(path) for path in bag.import_errors), bag.import_errors


def test_dag_test_date_argument():
    with contract("dag_test_date_argument"):
        assert _compat.dag_test_date_argument() in inspect.signature(DAG.test).parameters


def test_base_notifier_is_the_class_airflows_notifiers_subclass():
    with contract("BaseNotifier (airflow.sdk on 3.x, airflow.notifications.basenotifier on 2.x)"):
        expected = "airflow.sdk" if _compat.AIRFLOW_V_3_0_PLUS else "airflow.notifications.basenotifier"
        assert _compat.BaseNotifier.__module__.startswith(expected)
        seen: list[dict] = []

        class Recorder(_compat.BaseNotifier):
            template_fields = ("text",)

            def __init__(self) -> None:
                super().__init__()
                self.text = "{{ dlt_alert.message }}"

            def notify(self, context):
                seen.append({"text": self.text})

        Recorder()({"dag": None, "dlt_alert": {"message": "new column"}})  # context in, fields rendered
        assert seen == [{"text": "new column"}]


# ---------------------------------------------------------------- Airflow internals: what each one's caller uses


def _assert_has(model, names: set[str]) -> None:
    missing = sorted(name for name in names if not hasattr(model, name))
    assert not missing, f"{model.__name__} lost {missing}"


def _assert_parameters(function, names: set[str]) -> None:
    missing = sorted(names - set(inspect.signature(function).parameters))
    assert not missing, f"{function.__qualname__} lost parameter(s) {missing}"


def test_create_session():
    from sqlalchemy import select

    with (
        contract("create_session (airflow.utils.session)"),
        _compat.create_session() as session,
    ):
        assert session.execute(select(1)).scalar() == 1


def test_pool():
    """pools/sync.py: select and update ``pool``/``slots``, ``create_or_update_pool`` by keyword."""
    with contract("Pool (airflow.models.pool)"):
        pool = _compat.Pool
        _assert_has(pool, {"pool", "slots", "create_or_update_pool"})
        _assert_parameters(
            pool.create_or_update_pool, {"name", "slots", "description", "include_deferred", "session"}
        )


def test_dag_run():
    """testing/dagrun.py (``find``, ``get_task_instances``), runtime/dag_runs.py (2.x), plugins/queries.py (3.x)."""
    with contract("DagRun (airflow.models.dagrun)"):
        dag_run = _compat.DagRun
        _assert_has(dag_run, {"id", "dag_id", "run_id", "state", "run_type", "start_date", "end_date"})
        _assert_parameters(dag_run.find, {"dag_id", "run_id"})
        assert callable(dag_run.get_task_instances)
        if AIRFLOW_V_3_0_PLUS:
            _assert_has(dag_run, {"run_after"})


def test_task_instance():
    """testing/dagrun.py (``xcom_pull``), runtime/dag_runs.py (2.x), plugins/queries.py (3.x)."""
    with contract("TaskInstance (airflow.models.taskinstance)"):
        task_instance = _compat.TaskInstance
        _assert_has(task_instance, {"dag_id", "run_id", "task_id", "map_index", "state", "operator"})
        _assert_parameters(task_instance.xcom_pull, {"task_ids", "key", "map_indexes", "default"})


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="XComModel is Airflow 3's (the UI plugin needs 3.1+)")
def test_xcom_model():
    with contract("XComModel (airflow.models.xcom)"):
        xcom = _compat.XComModel
        _assert_has(xcom, {"dag_id", "run_id", "task_id", "map_index", "value", "key", "dag_run_id"})


def test_dag_model():
    """plugins/queries.py: the teams of DAGs, where Airflow has teams (optional, looked up by name)."""
    with contract("DagModel (airflow.models.dag)"):
        dag_model = _compat.DagModel
        assert dag_model.__tablename__ == "dag"
        mapping = getattr(dag_model, "get_dag_id_to_team_name_mapping", None)
        if mapping is not None:
            assert list(inspect.signature(mapping).parameters)[0] == "dag_ids"


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 3 registers asset aliases itself")
def test_dataset_alias_model():
    with contract("DatasetAliasModel (airflow.models.dataset)"):
        alias = _compat.DatasetAliasModel
        _assert_has(alias, {"id", "name"})
        assert alias(name="dlt_compat_alias_model").name == "dlt_compat_alias_model"


@pytest.mark.skipif(
    not AIRFLOW_V_3_1_PLUS, reason="the UI plugin's read side runs in Airflow 3.1+'s API server"
)
def test_get_auth_manager():
    """plugins/queries.py: the DAGs a user may read, then whether they may read each one's XComs."""
    from airflow.api_fastapi import app as api_app

    with contract("get_auth_manager (airflow.api_fastapi.app)"):
        created = api_app.create_auth_manager()  # what the API server does at start
        manager = _compat.get_auth_manager()
        assert manager is created
        _assert_parameters(manager.get_authorized_dag_ids, {"user", "method"})
        _assert_parameters(manager.is_authorized_dag, {"method", "access_entity", "details", "user"})
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        assert DagAccessEntity.XCOM and DagDetails(id="d", team_name=None).id == "d"


@pytest.mark.skipif(
    not AIRFLOW_V_3_1_PLUS, reason="the UI plugin's read side runs in Airflow 3.1+'s API server"
)
def test_get_user():
    with contract("get_user (airflow.api_fastapi.core_api.security)"):
        assert "request" in inspect.signature(_compat.get_user).parameters


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2's tasks read other DAG runs from the DB")
def test_supervisor_dag_run(monkeypatch):
    """runtime/dag_runs.py: another DAG run's ``state``, ``run_type`` and ``start_date``, asked of the supervisor."""
    from airflow.sdk.execution_time import comms, task_runner

    with contract("supervisor_dag_run (comms.GetDagRun through task_runner.SUPERVISOR_COMMS)"):
        if not hasattr(comms, "GetDagRun"):  # Airflow 3.1: the state through the public task-SDK call only
            assert _compat.supervisor_dag_run("d", "r") is None
            parameters = inspect.signature(task_runner.RuntimeTaskInstance.get_dagrun_state).parameters
            assert {"dag_id", "run_id"} <= set(parameters)
            return
        assert {"state", "run_type", "start_date"} <= set(comms.DagRunResult.model_fields)
        sent = []

        class Channel:
            def send(self, message):
                sent.append(message)
                return "the run"

        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Channel(), raising=False)
        assert _compat.supervisor_dag_run("d", "r") == "the run"
        assert isinstance(sent[0], comms.GetDagRun) and (sent[0].dag_id, sent[0].run_id) == ("d", "r")


def test_every_internal_has_a_contract_test():
    source = Path(__file__).read_text()
    untested = sorted(name for name in _compat._INTERNALS if f'contract("{name} (' not in source)
    assert untested == [], "an Airflow internal without a contract test in tests/integration/test_compat.py"
