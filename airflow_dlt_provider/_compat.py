"""The single place that knows where Airflow 2.10+/2.11 and Airflow 3.x keep things.

No other module of the package checks the Airflow version.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V_3: bool = int(AIRFLOW_VERSION.split(".")[0]) >= 3

if TYPE_CHECKING or AIRFLOW_V_3:  # type-check against the newest Airflow
    from airflow.sdk import Asset, AssetAlias, BaseHook, BaseOperator, TaskGroup, get_current_context
else:
    from airflow.datasets import Dataset as Asset
    from airflow.datasets import DatasetAlias as AssetAlias
    from airflow.hooks.base import BaseHook
    from airflow.models.baseoperator import BaseOperator
    from airflow.operators.python import get_current_context
    from airflow.utils.task_group import TaskGroup


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Register ``secret`` with the secrets masker of the running Airflow (task logs, rendered fields)."""
    try:
        from airflow.sdk.log import mask_secret as _mask  # Airflow 3.1+
    except ImportError:
        try:
            from airflow.sdk.execution_time.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]  # 3.0
        except ImportError:
            from airflow.utils.log.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]  # 2.x
    _mask(secret, name)
    try:  # Airflow 3.1+: the core masker is a separate instance; it filters `airflow dags test` output
        from airflow._shared.secrets_masker import _secrets_masker as _core_masker
    except ImportError:
        return
    _core_masker().add_mask(secret, name)


def redact(value: Any) -> Any:
    """Apply the secrets masker to ``value`` (used before values leave the task: XCom, exceptions)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    except ImportError:
        try:
            from airflow.sdk.execution_time.secrets_masker import redact as _redact  # type: ignore[no-redef]
        except ImportError:
            from airflow.utils.log.secrets_masker import redact as _redact  # type: ignore[no-redef]
    return _redact(value)


def airflow_home() -> str:
    """The Airflow home folder of this process (read at run time, never at import time)."""
    return os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow")


def get_connection(conn_id: str) -> Any:
    """Look up an Airflow connection (environment, secrets backends, metadata DB)."""
    return BaseHook.get_connection(conn_id)


def secrets_backends() -> list[Any]:
    """The secrets backends this process reads connections from, in Airflow's order (environment first).

    Airflow tries them in turn and reports a connection that one of them cannot parse (broken JSON, a port
    that is no number) as not defined; asking them again is how the caller tells the two apart.
    """
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

        return list(ensure_secrets_backend_loaded())
    from airflow.configuration import ensure_secrets_loaded

    return list(ensure_secrets_loaded())


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


def conf_get(section: str, key: str, fallback: str | None = None) -> str | None:
    """Read an Airflow configuration option."""
    try:
        from airflow.configuration import conf
    except ImportError:  # pragma: no cover
        return fallback
    return conf.get(section, key, fallback=fallback)


def context_data_interval(context: Any) -> tuple[Any, Any]:
    """``(data_interval_start, data_interval_end)`` of a task context; ``None``s for manual runs without one."""
    return context.get("data_interval_start"), context.get("data_interval_end")


__all__ = [
    "AIRFLOW_V_3",
    "AIRFLOW_VERSION",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "TaskGroup",
    "get_current_context",
    "mask_secret",
    "redact",
    "airflow_home",
    "get_connection",
    "secrets_backends",
    "conf_get",
    "render_sqlalchemy_url",
    "context_data_interval",
]


def register_dag_assets(dag: Any) -> None:
    """Write a DAG's datasets and dataset aliases to the metadata DB, as the DAG processor does.

    Airflow 2's ``dag.test()`` skips this, and then records no dataset event for a declared outlet and fails
    on an alias event (``FlushError: None value found in collection DatasetModel.aliases``). Airflow 3's
    ``dag.test()`` does it itself.
    """
    if not AIRFLOW_V_3:
        dag.sync_to_db()


def ensure_asset_alias_registered(name: str) -> None:
    """Airflow 2: write the dataset alias ``name`` to the metadata DB if no DAG processor has done it yet.

    Airflow 2 fails a task whose events go through an alias it has no row for (``FlushError: None value found
    in collection DatasetModel.aliases``); that is the case under ``airflow dags test`` of a DAG the scheduler
    never parsed. Airflow 3 handles this itself.
    """
    if AIRFLOW_V_3:
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


def dag_bag(dag_folder: str) -> Any:
    """A ``DagBag`` of ``dag_folder`` (its module and arguments moved in Airflow 3.3)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

        return DagBag(dag_folder=dag_folder, include_examples=False)  # type: ignore[call-arg]
    return DagBag(dag_folder=dag_folder)


def duplicate_task_id_error() -> type[Exception]:
    """Airflow's ``DuplicateTaskIdFound`` (``airflow.sdk.exceptions`` in 3.x, ``airflow.exceptions`` before)."""
    if AIRFLOW_V_3:
        from airflow.sdk.exceptions import DuplicateTaskIdFound
    else:
        from airflow.exceptions import DuplicateTaskIdFound  # type: ignore[no-redef]
    return DuplicateTaskIdFound


def existing_pools(names: list[str]) -> dict[str, int]:
    """``{pool name: slots}`` of the pools among ``names`` that exist in the configured metadata DB."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if not names:
        return {}
    with create_session() as session:
        rows = session.execute(select(Pool.pool, Pool.slots).where(Pool.pool.in_(names))).all()
    return {str(name): int(slots) for name, slots in rows}


def create_pool(name: str, slots: int, description: str) -> None:
    """Create a pool in the configured metadata DB (``Pool.create_or_update_pool`` exists in 2.x and 3.x)."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        Pool.create_or_update_pool(
            name=name, slots=slots, description=description, include_deferred=False, session=session
        )


def airflow_fail_exception() -> type[Exception]:
    """Airflow's ``AirflowFailException``: fails the task without using its remaining retries."""
    if AIRFLOW_V_3:
        from airflow.sdk.exceptions import AirflowFailException
    else:
        from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    return AirflowFailException


def dag_test_date_argument() -> str:
    """The name of ``DAG.test()``'s date argument: ``logical_date`` (3.x) or ``execution_date`` (2.x)."""
    return "logical_date" if AIRFLOW_V_3 else "execution_date"


def _in_supervised_process() -> bool:
    """True inside an Airflow 3 task runner or DAG-processor parse (the supervisor owns the DB access)."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def variable_get(key: str) -> str | None:
    """The value of Airflow Variable ``key`` (``None`` when missing), without a deprecation warning.

    Airflow 3 in a supervised process (task, DAG processor): ``airflow.sdk.Variable`` (execution API);
    elsewhere (Airflow 2, or Airflow 3 in a plain process such as a test): ``airflow.models.Variable`` (DB).
    """
    if AIRFLOW_V_3 and _in_supervised_process():
        from airflow.sdk import Variable as SdkVariable

        value = SdkVariable.get(key, default=None)
    else:
        from airflow.models import Variable

        value = Variable.get(key, default_var=None)
    return None if value is None else str(value)


def variable_set(key: str, value: str, description: str | None = None) -> None:
    """Create or replace Airflow Variable ``key`` (same routing as :func:`variable_get`)."""
    if AIRFLOW_V_3 and _in_supervised_process():
        from airflow.sdk import Variable as SdkVariable

        SdkVariable.set(key, value, description=description)
    else:
        from airflow.models import Variable

        Variable.set(key, value, description=description)


def current_dag(explicit: Any = None) -> Any:
    """``explicit`` or the DAG of the enclosing ``with DAG(...)`` block (``None`` outside one)."""
    if explicit is not None:
        return explicit
    if AIRFLOW_V_3:
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        return DagContext.get_current()
    from airflow.models.dag import DagContext as Airflow2DagContext

    return Airflow2DagContext.get_current_dag()
