"""The one seam to Airflow: version flags, where Airflow 2 and 3 keep each name, one accessor per internal.

Three things live here and nothing else:

- the version flags (``AIRFLOW_V_3_0_PLUS``, ``AIRFLOW_V_3_1_PLUS``, as in the official providers'
  ``version_compat``);
- which module a public name comes from on Airflow 2 and 3: through ``apache-airflow-providers-common-compat``
  (``airflow.providers.common.compat.sdk``), which the official providers share, where the installed one routes
  it (an optional dependency: see :func:`routed`), else one small function per name;
- one accessor per Airflow internal still used (:data:`_INTERNALS`, or a small function). The code that uses
  it lives beside its caller (the UI query in ``plugins/queries.py``, pool CRUD in ``pools/sync.py``, ...) and
  says why no public API serves there; the accessor only says where the internal is.
  ``tests/integration/seams/test_compat.py`` holds a contract test per entry that fails, naming the entry,
  when an Airflow release changes what its caller relies on.

No other module checks the Airflow version by itself or imports a private Airflow name.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

# ---------------------------------------------------------------- version flags

_AIRFLOW_BASE_VERSION: tuple[int, int] = (
    int(AIRFLOW_VERSION.split(".")[0]),
    int(AIRFLOW_VERSION.split(".")[1]),
)
AIRFLOW_V_3_0_PLUS: bool = _AIRFLOW_BASE_VERSION >= (3, 0)
# plugins with ``fastapi_apps`` *and* ``external_views`` (the dlt pages under Browse) need Airflow 3.1+
AIRFLOW_V_3_1_PLUS: bool = _AIRFLOW_BASE_VERSION >= (3, 1)

# ---------------------------------------------------------------- public names: where Airflow 2 and 3 keep them

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
    elif name in _INTERNALS:
        value = getattr(importlib.import_module(_INTERNALS[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
    "airflow_fail_exception",
    "airflow_home",
    "common_compat_sdk",
    "conf_get",
    "current_dag",
    "dag_bag",
    "dag_test_date_argument",
    "duplicate_task_id_error",
    "get_connection",
    "get_current_context",
    "mask_secret",
    "object_storage_path",
    "redact",
    "routed",
    "secrets_backends",
    "supervisor_dag_run",
    "variable_get",
    "variable_set",
]


# ---------------------------------------------------------------- secrets masking


def _sdk_maskers() -> tuple[Any, Any]:
    """``(mask_secret, redact)`` of the running Airflow's task SDK (``airflow.sdk.log`` on 3.1+)."""
    return routed("mask_secret"), routed("redact")


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


# ---------------------------------------------------------------- authoring (parse time), CLI


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


# ---------------------------------------------------------------- DAG folders and dag.test() (CLI, pytest plugin)


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


def dag_test_date_argument() -> str:
    """The name of ``DAG.test()``'s date argument: ``logical_date`` (3.x) or ``execution_date`` (2.x)."""
    return "logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"


# ---------------------------------------------------------------- Airflow internals

# The ones still used, resolved on first use (``__getattr__``): name -> module. The code that uses one
# lives beside its caller, named here, and says why no public API serves there;
# tests/integration/seams/test_compat.py asserts the attributes and parameters that caller relies on.
_INTERNALS: dict[str, str] = {
    "create_session": "airflow.utils.session",  # a metadata DB session: the ORM uses below
    "Pool": "airflow.models.pool",  # pools/sync.py
    "DagRun": "airflow.models.dagrun",  # testing/dagrun.py, runtime/dag_runs.py (2.x), plugins/queries.py
    "TaskInstance": "airflow.models.taskinstance",  # runtime/dag_runs.py (2.x), plugins/queries.py
    "XComModel": "airflow.models.xcom",  # plugins/queries.py (3.x)
    "DagModel": "airflow.models.dag",  # plugins/queries.py (3.x)
    "DatasetAliasModel": "airflow.models.dataset",  # assets/events.py (2.x)
    "get_auth_manager": "airflow.api_fastapi.app",  # plugins/queries.py (3.1+)
    "get_user": "airflow.api_fastapi.core_api.security",  # plugins/queries.py (3.1+)
}


def supervisor_dag_run(dag_id: str, run_id: str) -> Any:
    """A DAG run as the API server returns it to a running Airflow 3 task (``runtime/dag_runs.py``), or
    ``None`` where the supervisor has no ``GetDagRun`` (Airflow 3.1: only the public ``get_dagrun_state``).

    ``GetDagRun`` through ``airflow.sdk.execution_time.task_runner.SUPERVISOR_COMMS``.
    """
    try:
        from airflow.sdk.execution_time.comms import GetDagRun
    except ImportError:
        return None
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    return SUPERVISOR_COMMS.send(GetDagRun(dag_id=dag_id, run_id=run_id))
