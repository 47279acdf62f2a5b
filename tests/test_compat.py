"""Contract tests of ``airflow_dlt_provider._compat``: one per entry, each naming the entry when it breaks.

``_compat`` is the only module that knows where Airflow 2 and 3 keep things and the only one that uses
Airflow internals. When a new Airflow release moves or changes one of them, the test of that entry fails
with ``Airflow <version> broke _compat.<entry>``. Runs on the newest Airflow 3 and on Airflow 2.11.
"""

from __future__ import annotations

import contextlib
import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from airflow_dlt_provider import _compat
from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_VERSION

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


# ---------------------------------------------------------------- assets (Airflow 2)


def test_ensure_asset_alias_registered():
    with contract("ensure_asset_alias_registered (DatasetAliasModel)"):
        _compat.ensure_asset_alias_registered("dlt_compat_alias")
        _compat.ensure_asset_alias_registered("dlt_compat_alias")  # idempotent
        if AIRFLOW_V_3_0_PLUS:
            return
        from airflow.models.dataset import DatasetAliasModel
        from airflow.utils.session import create_session

        with create_session() as session:
            assert session.query(DatasetAliasModel).filter_by(name="dlt_compat_alias").count() == 1


def test_register_dag_assets():
    with contract("register_dag_assets (DAG.sync_to_db on Airflow 2)"):
        if not AIRFLOW_V_3_0_PLUS:
            assert callable(DAG.sync_to_db)
        _compat.register_dag_assets(_dag("compat_assets"))


# ---------------------------------------------------------------- DAG folders, pools, dag.test() runs


DAG_FILE = """
import pendulum
{dag_import}

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):

    @task
    def produce():
        return {{"rows": {{"t": 3}}}}

    @task
    def nothing():
        pass

    produce() >> nothing()
"""


def _write_dag(folder: Path, dag_id: str) -> Path:
    dag_import = (
        "from airflow.sdk import DAG, task"
        if AIRFLOW_V_3_0_PLUS
        else "from airflow import DAG\nfrom airflow.decorators import task"
    )
    path = folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(DAG_FILE.format(dag_import=dag_import, dag_id=dag_id)))
    return path


def test_dag_bag(tmp_path):
    with contract("dag_bag (DagBag)"):
        _write_dag(tmp_path, "compat_bag")
        (tmp_path / "broken.py").write_text(
            "# an airflow DAG file\nimport module_that_does_not_exist_anywhere\n"
        )
        bag = _compat.dag_bag(str(tmp_path))
        assert "compat_bag" in bag.dags
        assert any("broken.py" in str(path) for path in bag.import_errors), bag.import_errors


def test_pools():
    with contract("create_pool/existing_pools (Pool.create_or_update_pool, Pool ORM)"):
        from airflow.models.pool import Pool

        parameters = inspect.signature(Pool.create_or_update_pool).parameters
        missing = {"name", "slots", "description", "include_deferred", "session"} - set(parameters)
        assert not missing, f"Pool.create_or_update_pool lost {sorted(missing)}"
        _compat.create_pool("dlt_compat_pool", 1, "contract test")
        _compat.create_pool("dlt_compat_pool", 2, "contract test, updated")
        assert _compat.existing_pools(["dlt_compat_pool", "dlt_compat_no_pool"]) == {"dlt_compat_pool": 2}
        assert _compat.existing_pools([]) == {}
    with contract("set_pool_slots (Pool ORM update)"):
        _compat.set_pool_slots("dlt_compat_pool", 1)
        assert _compat.existing_pools(["dlt_compat_pool"]) == {"dlt_compat_pool": 1}
        assert Pool.get_pool("dlt_compat_pool").description == "contract test, updated"


def test_dag_test_date_argument():
    with contract("dag_test_date_argument"):
        assert _compat.dag_test_date_argument() in inspect.signature(DAG.test).parameters


def test_dag_run_task_states_and_xcom(dags_folder):
    with contract("dag_run_task_states/dag_run_xcom (DagRun.find, get_task_instances, TI.xcom_pull)"):
        path = _write_dag(dags_folder, "compat_dag_run")
        dag = _compat.dag_bag(str(path)).dags["compat_dag_run"]
        _compat.register_dag_assets(dag)
        dag_run = dag.test()
        states = _compat.dag_run_task_states(dag.dag_id, dag_run.run_id)
        assert states == {"produce": "success", "nothing": "success"}, states
        assert _compat.dag_run_xcom(dag.dag_id, dag_run.run_id, "produce") == {"rows": {"t": 3}}
        with pytest.raises(KeyError, match="nothing"):
            _compat.dag_run_xcom(dag.dag_id, dag_run.run_id, "nothing")
        with pytest.raises(KeyError):
            _compat.dag_run_task_states(dag.dag_id, "no_such_run")


def test_dlt_pipeline_link():
    from airflow.models.taskinstancekey import TaskInstanceKey

    key = TaskInstanceKey(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=-1)
    with contract("dlt_pipeline_link"):
        url = _compat.dlt_pipeline_link("p", key)
    assert url == "/dlt/pipelines/p" if _compat.AIRFLOW_V_3_1_PLUS else "xcom" in url


@pytest.mark.skipif(
    not _compat.AIRFLOW_V_3_1_PLUS, reason="the UI plugin's read side runs in Airflow 3.1+'s API server"
)
def test_readable_dag_ids_dependency_and_dlt_task_summaries(dags_folder):
    with contract("readable_dag_ids_dependency"):
        dependency = _compat.readable_dag_ids_dependency()
        assert "user" in inspect.signature(dependency).parameters
    with contract("dlt_task_summaries"):
        assert _compat.dlt_task_summaries(set(), 10) == []
        rows = _compat.dlt_task_summaries({"no_such_dag"}, 10)
    assert rows == []


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


def test_main_process_identity():
    """Python's multiprocessing internals: a started child sees a fresh main-process identity, put back after."""
    import multiprocessing

    with contract("main_process_identity (multiprocessing.process._current_process)"):
        inherited = multiprocessing.current_process()
        with _compat.main_process_identity() as identity:
            assert multiprocessing.current_process() is identity is not inherited
            assert identity.daemon is False
            assert (identity.name, bytes(identity.authkey)) == (inherited.name, bytes(inherited.authkey))
            child = multiprocessing.get_context("spawn").Process(target=print, args=("",))
            child.start()  # the authkey is pickled for a spawn child: a standard-library AuthenticationString
            child.join(timeout=120)
            assert child.exitcode == 0
        assert multiprocessing.current_process() is inherited
