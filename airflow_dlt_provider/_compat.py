"""The one seam to Airflow: every Airflow 2/3 difference and every Airflow internal the package still uses.

No other module of the package checks the Airflow version or imports a private Airflow name. Version-routed
public names come from ``apache-airflow-providers-common-compat`` (``airflow.providers.common.compat.sdk``),
which the official providers share, when the installed one routes them (an optional dependency: see
:func:`routed`); what it does not route is below, one small function per use. Each entry
that touches an Airflow internal says why no public API serves, and ``tests/test_compat.py`` holds a contract
test per entry that fails, naming the entry, when an Airflow release changes what it relies on.

One Python internal sits here too, because it is about how Airflow's executors start task processes:
``main_process_identity`` (``multiprocessing``'s record of the current process).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

# version flags as in the official providers' ``version_compat``
_AIRFLOW_BASE_VERSION: tuple[int, int] = (
    int(AIRFLOW_VERSION.split(".")[0]),
    int(AIRFLOW_VERSION.split(".")[1]),
)
AIRFLOW_V_3_0_PLUS: bool = _AIRFLOW_BASE_VERSION >= (3, 0)
# plugins with ``fastapi_apps`` *and* ``external_views`` (the dlt pages under Browse) need Airflow 3.1+
AIRFLOW_V_3_1_PLUS: bool = _AIRFLOW_BASE_VERSION >= (3, 1)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import (
        Asset,
        AssetAlias,
        BaseHook,
        BaseNotifier,
        BaseOperator,
        BaseOperatorLink,
        TaskGroup,
        get_current_context,
    )
elif AIRFLOW_V_3_0_PLUS:
    # The names a DAG file's parse needs, from where common-compat routes them (``airflow.sdk`` on 3.x, the
    # ``airflow.models``/``airflow.utils`` modules before). Imported directly: any DAG file has already
    # imported them, while importing common-compat's router costs ~0.7 ms on every parse (bench_parse.py).
    from airflow.sdk import Asset, AssetAlias, BaseOperator, BaseOperatorLink, TaskGroup
else:
    from airflow.datasets import Dataset as Asset
    from airflow.datasets import DatasetAlias as AssetAlias
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.baseoperatorlink import BaseOperatorLink
    from airflow.utils.task_group import TaskGroup

# Names only tasks and the CLI use, resolved when first asked for (``__getattr__``): through common-compat's
# router where the installed common-compat has it (1.8+), else from the modules it would route to. The
# dependency is optional: the platforms' constraints files pin common-compat 1.2.0 (Airflow 2.10.1), 1.7.x
# (2.11.0, 3.0.x), which have no ``sdk`` module, and Cloud Composer refuses to change a preinstalled one.
_ROUTES: dict[str, tuple[str, ...]] = {
    "BaseHook": ("airflow.sdk", "airflow.hooks.base"),
    "BaseNotifier": ("airflow.sdk", "airflow.notifications.basenotifier"),
    "get_current_context": ("airflow.sdk", "airflow.operators.python"),
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "conf": ("airflow.sdk.configuration", "airflow.configuration"),
    "mask_secret": (
        "airflow.sdk.log",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    ),
    "redact": (
        "airflow.sdk.log",
        "airflow.sdk._shared.secrets_masker",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    ),
}
_LAZY_COMMON_COMPAT_NAMES = frozenset({"BaseHook", "BaseNotifier", "get_current_context"})


def common_compat_sdk() -> Any:
    """common-compat's version router (``airflow.providers.common.compat.sdk``), or ``None`` without one."""
    try:
        from airflow.providers.common.compat import sdk
    except ImportError:  # common-compat missing, or older than 1.8 (no ``sdk`` module)
        return None
    return sdk


def routed(name: str) -> Any:
    """``name`` as common-compat routes it, else from the first of its :data:`_ROUTES` modules that has it."""
    import importlib

    sdk = common_compat_sdk()
    if sdk is not None:
        try:
            return getattr(sdk, name)
        except (AttributeError, ImportError):  # a common-compat too old to route this name
            pass
    for module_name in _ROUTES[name]:
        try:
            return getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{name} is in none of {', '.join(_ROUTES[name])} (Airflow {AIRFLOW_VERSION})")


def __getattr__(name: str) -> Any:
    if name in _LAZY_COMMON_COMPAT_NAMES:
        value = routed(name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_VERSION",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "BaseOperatorLink",
    "TaskGroup",
    "airflow_cli_classes",
    "common_compat_sdk",
    "routed",
    "airflow_fail_exception",
    "airflow_home",
    "conf_get",
    "context_data_interval",
    "create_pool",
    "current_dag",
    "dag_bag",
    "dag_run_task_states",
    "dag_run_xcom",
    "dag_test_date_argument",
    "dlt_pipeline_link",
    "dlt_task_summaries",
    "readable_dag_ids_dependency",
    "duplicate_task_id_error",
    "ensure_asset_alias_registered",
    "existing_pools",
    "get_connection",
    "get_current_context",
    "main_process_identity",
    "mask_secret",
    "object_storage_path",
    "other_running_dag_runs",
    "redact",
    "register_dag_assets",
    "render_sqlalchemy_url",
    "secrets_backends",
    "set_pool_slots",
    "variable_get",
    "variable_set",
]


def _sdk_maskers() -> tuple[Any, Any]:
    """``(mask_secret, redact)`` of the running Airflow's task SDK (``airflow.sdk.log`` on 3.1+)."""
    return routed("mask_secret"), routed("redact")


# ---------------------------------------------------------------- secrets masking


def _core_secrets_masker() -> Any:
    """Airflow 3.1+'s core secrets masker (``None`` before 3.1).

    INTERNAL ``airflow._shared.secrets_masker._secrets_masker``: from 3.1 the core (``airflow dags test``'s
    own output, the CLI) filters through a masker instance separate from the task SDK's one that the public
    ``mask_secret`` feeds; no public function registers a secret with it.
    """
    try:
        from airflow._shared.secrets_masker import _secrets_masker
    except ImportError:
        return None
    return _secrets_masker()


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Register ``secret`` with the secrets masker of the running Airflow (task logs, rendered fields)."""
    _sdk_maskers()[0](secret, name)
    core = _core_secrets_masker()
    if core is not None:
        core.add_mask(secret, name)


def redact(value: Any) -> Any:
    """Apply the secrets masker to ``value`` (used before values leave the task: XCom, exceptions)."""
    return _sdk_maskers()[1](value)


# ---------------------------------------------------------------- exceptions


def airflow_fail_exception() -> type[Exception]:
    """Airflow's ``AirflowFailException``: fails the task without using its remaining retries."""
    return routed("AirflowFailException")  # type: ignore[no-any-return]


def duplicate_task_id_error() -> type[Exception]:
    """Airflow's ``DuplicateTaskIdFound`` (``airflow.sdk.exceptions`` in 3.2+, ``airflow.exceptions`` before).

    Public in both; common-compat does not route it.
    """
    try:  # Airflow 3.2+
        from airflow.sdk.exceptions import DuplicateTaskIdFound
    except ImportError:  # Airflow 2.x, 3.0 and 3.1
        from airflow.exceptions import DuplicateTaskIdFound  # type: ignore[no-redef,attr-defined,unused-ignore]
    return DuplicateTaskIdFound


# ---------------------------------------------------------------- configuration, connections, variables


def airflow_home() -> str:
    """The Airflow home folder of this process (read at run time, never at import time)."""
    return os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow")


def conf_get(section: str, key: str, fallback: str | None = None) -> str | None:
    """Read an Airflow configuration option (``airflow.cfg``, ``AIRFLOW__<SECTION>__<KEY>``)."""
    value = routed("conf").get(section, key, fallback=fallback)  # the task SDK's parser on Airflow 3.1+
    return None if value is None else str(value)


def object_storage_path(url: str, conn_id: str | None = None) -> Any:
    """Airflow's ``ObjectStoragePath`` for ``url`` (fsspec URL), credentials from Airflow connection ``conn_id``.

    Public in both: ``airflow.sdk.ObjectStoragePath`` on Airflow 3, ``airflow.io.path.ObjectStoragePath``
    on 2.8+; common-compat does not route it.
    """
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath
    else:  # pragma: no cover - Airflow 2
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        return ObjectStoragePath(url, conn_id=conn_id)
    except TypeError as error:  # Airflow 2.10 with universal-pathlib 0.3: every protocol is "incompatible"
        if AIRFLOW_V_3_0_PLUS or "incompatible with ObjectStoragePath" not in str(error):
            raise
        from importlib.metadata import version

        from airflow_dlt_provider.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            f"Airflow {AIRFLOW_VERSION}'s ObjectStoragePath cannot open the [dlt] package_store with "
            f"universal-pathlib {version('universal-pathlib')}; install universal-pathlib<0.3 (Airflow's "
            "constraints file for this version pins 0.2.6)"
        ) from None


def get_connection(conn_id: str) -> Any:
    """Look up an Airflow connection (environment, secrets backends, metadata DB)."""
    return __getattr__("BaseHook").get_connection(conn_id)


def secrets_backends() -> list[Any]:
    """The secrets backends this process reads connections from, in Airflow's order (environment first).

    Airflow tries them in turn and reports a connection that one of them cannot parse (broken JSON, a port
    that is no number) as not defined; asking them again is how the caller tells the two apart.

    INTERNAL ``airflow.sdk.execution_time.supervisor.ensure_secrets_backend_loaded`` (3.x) and
    ``airflow.configuration.ensure_secrets_loaded`` (2.x): no public API lists the configured backends, and
    ``BaseHook.get_connection`` swallows the parse error that tells "broken" from "missing".
    """
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

        return list(ensure_secrets_backend_loaded())
    from airflow.configuration import ensure_secrets_loaded

    return list(ensure_secrets_loaded())


def _in_supervised_process() -> bool:
    """True inside an Airflow 3 task runner or DAG-processor parse (the supervisor owns the DB access).

    INTERNAL ``airflow.sdk.execution_time.task_runner.SUPERVISOR_COMMS``: Airflow 3's public
    ``airflow.sdk.Variable`` needs the supervisor channel (``set`` raises ``ImportError`` without one), and
    no public function says whether this process has one. Read from ``sys.modules`` only: a process that
    never imported the task runner has no channel.
    """
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def variable_get(key: str) -> str | None:
    """The value of Airflow Variable ``key`` (``None`` when missing), without a deprecation warning.

    Airflow 3 in a supervised process (task, DAG processor): ``airflow.sdk.Variable`` (execution API);
    elsewhere (Airflow 2, or Airflow 3 in a plain process such as a test): ``airflow.models.Variable`` (DB).
    """
    if AIRFLOW_V_3_0_PLUS and _in_supervised_process():
        from airflow.sdk import Variable as SdkVariable

        value = SdkVariable.get(key, default=None)
    else:
        from airflow.models import Variable

        value = Variable.get(key, default_var=None)
    return None if value is None else str(value)


def variable_set(key: str, value: str, description: str | None = None) -> None:
    """Create or replace Airflow Variable ``key`` (same routing as :func:`variable_get`)."""
    if AIRFLOW_V_3_0_PLUS and _in_supervised_process():
        from airflow.sdk import Variable as SdkVariable

        SdkVariable.set(key, value, description=description)
    else:
        from airflow.models import Variable

        Variable.set(key, value, description=description)


def render_sqlalchemy_url(url: Any) -> str:
    """A SQLAlchemy URL as a string that any libpq/SQLAlchemy parser reads back with the same password.

    SQLAlchemy 2 escapes every reserved character of the user name and password. SQLAlchemy 1.4 (the one
    Airflow 2 pins) escapes only ``@:/``, so a password with ``%#&?=`` came out unparseable ("invalid
    percent-encoded token" from psycopg2); there the URL is rendered here instead.
    """
    import sqlalchemy

    if int(sqlalchemy.__version__.split(".")[0]) >= 2:
        return str(url.render_as_string(hide_password=False))
    from urllib.parse import quote, urlencode

    rendered = f"{url.drivername}://"
    if url.username is not None:
        rendered += quote(str(url.username), safe="")
        if url.password is not None:
            rendered += ":" + quote(str(url.password), safe="")
        rendered += "@"
    if url.host is not None:
        rendered += f"[{url.host}]" if ":" in url.host else url.host
    if url.port is not None:
        rendered += f":{url.port}"
    if url.database is not None:
        rendered += f"/{url.database}"
    if url.query:
        rendered += "?" + urlencode(sorted(url.query.items()), doseq=True)
    return rendered


# ---------------------------------------------------------------- authoring (parse time)


def context_data_interval(context: Any) -> tuple[Any, Any]:
    """``(data_interval_start, data_interval_end)`` of a task context; ``None``s for manual runs without one."""
    return context.get("data_interval_start"), context.get("data_interval_end")


def current_dag(explicit: Any = None) -> Any:
    """``explicit`` or the DAG of the enclosing ``with DAG(...)`` block (``None`` outside one).

    INTERNAL ``DagContext`` (``airflow.sdk.definitions._internal.contextmanager`` in 3.x,
    ``airflow.models.dag`` in 2.x): ``DltTaskGroup`` needs the DAG id before ``TaskGroup.__init__`` adds the
    group to the DAG (the parse cache is keyed by it and validation comes first); no public API returns the
    DAG of the enclosing ``with`` block.
    """
    if explicit is not None:
        return explicit
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        return DagContext.get_current()
    from airflow.models.dag import DagContext as Airflow2DagContext

    return Airflow2DagContext.get_current_dag()


def airflow_cli_classes() -> tuple[Any, Any, Any]:
    """``(ActionCommand, Arg, GroupCommand)`` for the provider-info ``cli`` entry (``airflow dlt ...``).

    INTERNAL ``airflow.cli.cli_config``: the provider-info schema's ``cli`` key (Airflow 3.3+) expects these
    objects, and Airflow exposes them nowhere else.
    """
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand

    return ActionCommand, Arg, GroupCommand


# ---------------------------------------------------------------- assets (Airflow 2 only)


def register_dag_assets(dag: Any) -> None:
    """Write a DAG's datasets and dataset aliases to the metadata DB, as the DAG processor does.

    Airflow 2's ``dag.test()`` skips this, and then records no dataset event for a declared outlet and fails
    on an alias event (``FlushError: None value found in collection DatasetModel.aliases``). Airflow 3's
    ``dag.test()`` does it itself. ``DAG.sync_to_db`` is public on Airflow 2 (gone in 3, not called there).
    """
    if not AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()


def ensure_asset_alias_registered(name: str) -> None:
    """Airflow 2: write the dataset alias ``name`` to the metadata DB if no DAG processor has done it yet.

    Airflow 2 fails a task whose events go through an alias it has no row for (``FlushError: None value found
    in collection DatasetModel.aliases``); that is the case under ``airflow dags test`` of a DAG the scheduler
    never parsed. Airflow 3 handles this itself.

    INTERNAL (Airflow 2 only) ``airflow.models.dataset.DatasetAliasModel`` and ``create_session``: Airflow 2
    has no public call that registers one alias.
    """
    if AIRFLOW_V_3_0_PLUS:
        return
    from airflow.models.dataset import DatasetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    try:
        with create_session() as session:
            if session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name)) is None:
                session.add(DatasetAliasModel(name=name))
    except IntegrityError:  # another task registered it in the meantime
        pass


# ---------------------------------------------------------------- DAG folders, pools (CLI, pytest plugin)


def dag_bag(dag_folder: str) -> Any:
    """A ``DagBag`` of ``dag_folder``.

    ``DagBag`` moved to ``airflow.dag_processing.dagbag`` in 3.3 (``airflow.models.dagbag`` before) and no
    longer takes ``include_examples``. No public API parses a DAG folder the way the DAG processor does.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

        return DagBag(dag_folder=dag_folder, include_examples=False)  # type: ignore[call-arg]
    return DagBag(dag_folder=dag_folder)


def existing_pools(names: list[str]) -> dict[str, int]:
    """``{pool name: slots}`` of the pools among ``names`` that exist in the configured metadata DB.

    INTERNAL ``airflow.models.pool.Pool`` (ORM) and ``create_session``: pools have no public Python API
    (only the REST API and the ``airflow pools`` CLI, both too heavy for ``airflow-dlt pools sync`` and the
    pytest plugin, which run beside the metadata DB).
    """
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if not names:
        return {}
    with create_session() as session:
        rows = session.execute(select(Pool.pool, Pool.slots).where(Pool.pool.in_(names))).all()
    return {str(name): int(slots) for name, slots in rows}


def create_pool(name: str, slots: int, description: str) -> None:
    """Create a pool in the configured metadata DB.

    INTERNAL ``Pool.create_or_update_pool`` (2.x and 3.x; 3.3.2 added a keyword-only ``team_name``, so every
    argument is passed by name): same reason as :func:`existing_pools`.
    """
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        Pool.create_or_update_pool(
            name=name, slots=slots, description=description, include_deferred=False, session=session
        )


def set_pool_slots(name: str, slots: int) -> None:
    """Set the slots of the existing pool ``name`` (its description and other settings are kept).

    INTERNAL ``airflow.models.pool.Pool`` (ORM) and ``create_session``: same reason as :func:`existing_pools`.
    """
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(Pool).where(Pool.pool == name).values(slots=slots))


# ---------------------------------------------------------------- other DAG runs (a mapped group's discover task)

_FINISHED_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def _state_text(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def other_running_dag_runs(context: Any, task_ids: list[str]) -> list[dict[str, Any]]:
    """The other *running* DAG runs of the running task's DAG in which one of ``task_ids`` is not finished.

    Each: ``run_id``, ``run_type``, ``start_date`` and ``states`` (``{task_id or task_id_<map index>: state}``
    of ``task_ids`` in that run). Backfill runs are DAG runs too.

    Airflow 3 (a task talks to the API server, not the DB): ``RuntimeTaskInstance.get_dr_count`` and
    ``get_task_states`` (public task-SDK methods), then INTERNAL ``airflow.sdk.execution_time.comms.GetDagRun``
    through ``SUPERVISOR_COMMS`` for a candidate's state and start: no public call lists other DAG runs or
    returns one with its start date. Airflow 2: the ``DagRun``/``TaskInstance`` ORM (tasks reach the DB).
    """
    ti = context["ti"]
    dag_id, own_run_id = ti.dag_id, ti.run_id
    if AIRFLOW_V_3_0_PLUS:
        if ti.get_dr_count(dag_id=dag_id, states=["running"]) <= 1:
            return []
        by_run = ti.get_task_states(dag_id=dag_id, task_ids=list(task_ids))
        found = []
        for run_id, states in sorted(by_run.items()):
            texts = {key: _state_text(state) for key, state in states.items()}
            if run_id == own_run_id or not any(text not in _FINISHED_TI_STATES for text in texts.values()):
                continue
            dag_run = _fetch_dag_run(dag_id, run_id)
            if _state_text(dag_run.state) == "running":
                found.append(
                    {
                        "run_id": run_id,
                        "run_type": _state_text(dag_run.run_type),
                        "start_date": dag_run.start_date,
                        "states": texts,
                    }
                )
            if len(found) >= 20:
                break
        return found
    from airflow.models.dagrun import DagRun  # pragma: no cover - Airflow 2
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.execute(
            select(DagRun.run_id, DagRun.run_type, DagRun.start_date).where(
                DagRun.dag_id == dag_id, DagRun.state == "running", DagRun.run_id != own_run_id
            )
        ).all()
        found = []
        for run_id, run_type, start_date in runs[:200]:
            rows = session.execute(
                select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id.in_(list(task_ids)),
                )
            ).all()
            texts = {
                (task_id if map_index < 0 else f"{task_id}_{map_index}"): _state_text(state)
                for task_id, map_index, state in rows
            }
            if any(text not in _FINISHED_TI_STATES for text in texts.values()):
                found.append(
                    {
                        "run_id": run_id,
                        "run_type": _state_text(run_type),
                        "start_date": start_date,
                        "states": texts,
                    }
                )
    return found


def _fetch_dag_run(dag_id: str, run_id: str) -> Any:
    """A DAG run as the API server returns it to a task (Airflow 3; see :func:`other_running_dag_runs`)."""
    from airflow.sdk.execution_time.comms import GetDagRun
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    return SUPERVISOR_COMMS.send(GetDagRun(dag_id=dag_id, run_id=run_id))


# ---------------------------------------------------------------- a DAG run of dag.test() (pytest plugin)


def dag_test_date_argument() -> str:
    """The name of ``DAG.test()``'s date argument: ``logical_date`` (3.x) or ``execution_date`` (2.x)."""
    return "logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"


def _dag_run_task_instances(dag_id: str, run_id: str) -> list[Any]:
    """The task instances of DAG run ``run_id`` of ``dag_id``.

    INTERNAL ``airflow.models.dagrun.DagRun.find`` and ``DagRun.get_task_instances`` (ORM, same calls on 2.x
    and 3.x): ``dag.test()`` returns such a ``DagRun``, but the public task SDK reads task instances and
    XCom only from inside a running task (through the supervisor); a test process has none.
    """
    from airflow.models.dagrun import DagRun

    runs = DagRun.find(dag_id=dag_id, run_id=[run_id])
    if not runs:
        raise KeyError(f"no DAG run {run_id!r} of DAG {dag_id!r} in the metadata DB")
    return list(runs[0].get_task_instances())


def dag_run_task_states(dag_id: str, run_id: str) -> dict[str, str]:
    """``{task_id: state}`` of a finished DAG run (see :func:`_dag_run_task_instances`)."""
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state))
        for ti in sorted(_dag_run_task_instances(dag_id, run_id), key=lambda ti: ti.map_index)
    }


_NO_XCOM = object()


def dag_run_xcom(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` a task of a finished DAG run pushed (``KeyError`` when it pushed none).

    INTERNAL ``TaskInstance.xcom_pull`` of the ORM task instance (same call on 2.x and 3.x): see
    :func:`_dag_run_task_instances`. A mapped task answers with its first map index.
    """
    instances = [ti for ti in _dag_run_task_instances(dag_id, run_id) if ti.task_id == task_id]
    for ti in sorted(instances, key=lambda ti: ti.map_index):
        value = ti.xcom_pull(task_ids=task_id, key=key, map_indexes=ti.map_index, default=_NO_XCOM)
        if value is not _NO_XCOM:
            return value
    raise KeyError(f"no XCom {key!r} for task {task_id!r} in run {run_id!r}")


# ---------------------------------------------------------------- UI: extra link and plugin read side (3.1+)


def _api_base_path() -> str:
    """The path part of ``[api] base_url`` (``""`` when Airflow is served at the root)."""
    from urllib.parse import urlsplit

    return urlsplit(conf_get("api", "base_url", fallback="") or "").path.rstrip("/")


def dlt_pipeline_link(pipeline_name: str, ti_key: Any) -> str:
    """Where the "dlt pipeline" extra link of a dlt task points.

    Airflow 3.1+: the plugin page ``/dlt/pipelines/<pipeline_name>``. Airflow 2 (and 3.0) have no plugin page:
    the task instance's XCom, which holds the load summary (Airflow 2's grid ``tab=xcom``; 3.0's task page).
    """
    from urllib.parse import quote, urlencode

    base = _api_base_path()
    if AIRFLOW_V_3_1_PLUS:
        return f"{base}/dlt/pipelines/{quote(pipeline_name, safe='')}"
    if AIRFLOW_V_3_0_PLUS:
        dag, run, task = (
            quote(str(part), safe="") for part in (ti_key.dag_id, ti_key.run_id, ti_key.task_id)
        )
        mapped = f"/mapped/{ti_key.map_index}" if ti_key.map_index >= 0 else ""
        return f"{base}/dags/{dag}/runs/{run}/tasks/{task}{mapped}/xcom"
    query = {"dag_run_id": ti_key.run_id, "task_id": ti_key.task_id, "tab": "xcom"}
    if ti_key.map_index >= 0:
        query["map_index"] = str(ti_key.map_index)
    return f"{base}/dags/{quote(str(ti_key.dag_id), safe='')}/grid?{urlencode(query)}"


def readable_dag_ids_dependency() -> Any:
    """A FastAPI dependency: the ids of the DAGs whose XComs the caller may read, by Airflow's auth manager.

    Everything the ``/dlt`` plugin shows comes from XComs (the load summaries), so a DAG counts only if the
    caller may read the DAG *and* its XComs (``DagAccessEntity.XCOM``), as Airflow's own XCom endpoints require
    (``requires_access_dag("GET", DagAccessEntity.XCOM)``); a user who may see a DAG but not its XComs sees no
    pipeline of it. No valid JWT (``Authorization: Bearer`` or the UI's ``_token`` cookie) -> 401/403, as on
    Airflow's own API.

    INTERNAL ``airflow.api_fastapi.core_api.security.get_user``, ``airflow.api_fastapi.app.get_auth_manager``
    and ``DagModel.get_dag_id_to_team_name_mapping`` (3.x, for multi-team deployments): what Airflow's own
    routes depend on; no public API protects a plugin's FastAPI app.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends

    def team_names(dag_ids: set[str]) -> dict[str, Any]:
        from airflow.models.dag import DagModel

        mapping = getattr(DagModel, "get_dag_id_to_team_name_mapping", None)
        return dict(mapping(list(dag_ids))) if mapping is not None and dag_ids else {}

    # a default-value dependency: an Annotated one would be resolved against this module's globals
    def readable_dag_ids(user: Any = Depends(get_user)) -> set[str]:  # noqa: B008
        manager = get_auth_manager()
        dag_ids = set(manager.get_authorized_dag_ids(user=user, method="GET"))
        teams = team_names(dag_ids)
        return {
            dag_id
            for dag_id in dag_ids
            if manager.is_authorized_dag(
                method="GET",
                access_entity=DagAccessEntity.XCOM,
                details=DagDetails(id=dag_id, team_name=teams.get(dag_id)),
                user=user,
            )
        }

    return readable_dag_ids


def dlt_task_summaries(dag_ids: set[str], limit: int) -> list[dict[str, Any]]:
    """XCom return values of dlt tasks in ``dag_ids``, newest DAG run first, at most ``limit`` rows.

    Each: ``dag_id, run_id, task_id, map_index, value`` (decoded JSON) and the DAG run's ``run_state``,
    ``run_after``, ``start_date``, ``end_date``. dlt tasks are those whose operator class name contains
    ``dlt`` (``DltRunOperator`` and subclasses named alike); callers check the value's shape.

    INTERNAL ``XComModel``, ``TaskInstance``, ``DagRun`` (ORM) and ``create_session`` (3.x): the plugin runs
    inside the API server, next to the metadata DB, where Airflow's own routes read them the same way.
    """
    import json

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import and_, select

    if not dag_ids:
        return []
    stmt = (
        select(
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            XComModel.value,
            DagRun.state,
            DagRun.run_after,
            DagRun.start_date,
            DagRun.end_date,
        )
        .join(DagRun, DagRun.id == XComModel.dag_run_id)
        .join(
            TaskInstance,
            and_(
                TaskInstance.dag_id == XComModel.dag_id,
                TaskInstance.run_id == XComModel.run_id,
                TaskInstance.task_id == XComModel.task_id,
                TaskInstance.map_index == XComModel.map_index,
            ),
        )
        .where(XComModel.key == "return_value", XComModel.dag_id.in_(sorted(dag_ids)))
        .where(TaskInstance.operator.ilike("%dlt%"))
        .order_by(DagRun.id.desc(), XComModel.task_id, XComModel.map_index)
        .limit(limit)
    )
    keys = (
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "value",
        "run_state",
        "run_after",
        "start_date",
        "end_date",
    )
    with create_session() as session:
        rows = [dict(zip(keys, row, strict=True)) for row in session.execute(stmt).all()]
    for row in rows:
        if isinstance(row["value"], (str, bytes)):
            try:
                row["value"] = json.loads(row["value"])
            except ValueError:
                row["value"] = None
        row["run_state"] = (
            None if row["run_state"] is None else str(getattr(row["run_state"], "value", row["run_state"]))
        )
    return rows


# ---------------------------------------------------------------- Python's multiprocessing (task processes)


@contextlib.contextmanager
def main_process_identity() -> Iterator[Any]:
    """Within the block, ``multiprocessing`` sees the current process as a main process of its own.

    A task process forked with a bare ``os.fork()`` from a Celery prefork pool process (Airflow 3's supervisor,
    Airflow 2's ``_execute_in_fork``) inherits that pool process's ``multiprocessing.current_process()``: a
    billiard process object, daemonic (Python then refuses to start any child process: ``daemonic processes
    are not allowed to have children``), whose authkey Python refuses to pickle for a ``spawn`` child
    (``Pickling an AuthenticationString object is disallowed``). No public API sets the current process:
    ``multiprocessing.process._current_process`` is replaced by a ``multiprocessing.Process`` that is never
    started (not daemonic, the same name, the same authkey as a standard-library one) and put back afterwards.
    Yields the identity in force in the block.
    """
    import multiprocessing
    from multiprocessing import process as mp_process

    current = "_current_process"  # typeshed does not declare it
    inherited = getattr(mp_process, current)
    identity = multiprocessing.Process(name=inherited.name)  # copies the inherited config (daemon, authkey)
    identity.daemon = False
    identity.authkey = bytes(inherited.authkey)
    setattr(mp_process, current, identity)
    try:
        yield identity
    finally:
        setattr(mp_process, current, inherited)
