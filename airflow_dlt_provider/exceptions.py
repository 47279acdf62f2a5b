"""Exception types of the provider. Every message names the wrong value and what is accepted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class DltProviderError(Exception):
    """Base class of every error raised by airflow-dlt-provider."""


class SourceResolutionError(DltProviderError, ValueError):
    """``source`` could not be turned into a dlt source (bad import string, wrong type)."""


class UnknownResourceError(DltProviderError, ValueError):
    """Requested resource names that the source does not have."""


class InvalidArgumentError(DltProviderError, ValueError):
    """An argument has a value that is not accepted."""


class ConnectionMappingError(DltProviderError, ValueError):
    """An Airflow connection cannot be turned into dlt credentials."""


class ConnectionNotFoundError(ConnectionMappingError, LookupError):
    """The Airflow connection id is not defined (environment, secrets backends, metadata DB)."""


class MissingExtraError(DltProviderError, ImportError):
    """An optional dependency (a pip extra of airflow-dlt-provider) is not installed."""


class SchemaChangeError(DltProviderError):
    """The schema changed while ``on_schema_change='fail'``; nothing was loaded.

    Fields a failure callback can read (``context["exception"]``, or its ``__cause__`` chain):

    - ``pipeline_name``: the pipeline whose schema would have changed (``None`` when unknown).
    - ``new_tables``: tables the run would have created, sorted.
    - ``new_columns``: ``{table: [column, ...]}`` of columns the run would have added to existing tables.
    - ``table`` / ``columns``: the first changed table and its new columns (all of a new table's columns are
      unknown here: ``[]``), for the common case of one change.
    """

    def __init__(
        self,
        message: str,
        *,
        pipeline_name: str | None = None,
        new_tables: Iterable[str] = (),
        new_columns: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.pipeline_name = pipeline_name
        self.new_tables: list[str] = sorted(new_tables)
        self.new_columns: dict[str, list[str]] = {
            table: list(columns) for table, columns in sorted((new_columns or {}).items())
        }

    @property
    def table(self) -> str | None:
        changed = [*self.new_tables, *self.new_columns]
        return changed[0] if changed else None

    @property
    def columns(self) -> list[str]:
        return list(self.new_columns.get(self.table or "", []))

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {
            "pipeline_name": self.pipeline_name,
            "new_tables": self.new_tables,
            "new_columns": self.new_columns,
        }
        return (_rebuild, (type(self), self.args, fields))


class RowExpectationError(DltProviderError):
    """A table loaded fewer or more rows than ``expect_rows`` allows, with the action ``"fail"``.

    The task fails with Airflow's ``AirflowFailException`` (no retry: the rows stay loaded) raised *from*
    this error, so a failure callback finds it as ``context["exception"].__cause__``. Fields:

    - ``pipeline_name``: the pipeline of the task.
    - ``failures``: ``{table: {"rows": actual, "min": ..., "max": ..., "status": "below" | "above"}}`` for
      every unmet ``"fail"`` expectation of the run.
    - ``load_ids``: the load ids of the run (its rows are loaded).
    - ``table``, ``expected`` (``(min, max)``, ``None`` unbounded) and ``actual`` (rows loaded): the first
      unmet expectation, for the common case of one.
    """

    def __init__(
        self,
        message: str,
        *,
        pipeline_name: str | None = None,
        failures: Mapping[str, Mapping[str, Any]] | None = None,
        load_ids: Iterable[str] = (),
    ) -> None:
        super().__init__(message)
        self.pipeline_name = pipeline_name
        self.failures: dict[str, dict[str, Any]] = {t: dict(e) for t, e in sorted((failures or {}).items())}
        self.load_ids: list[str] = list(load_ids)

    @property
    def table(self) -> str | None:
        return next(iter(self.failures), None)

    @property
    def expected(self) -> tuple[int | None, int | None] | None:
        entry = self.failures.get(self.table or "")
        return (entry.get("min"), entry.get("max")) if entry is not None else None

    @property
    def actual(self) -> int | None:
        entry = self.failures.get(self.table or "")
        return entry.get("rows") if entry is not None else None

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {"pipeline_name": self.pipeline_name, "failures": self.failures, "load_ids": self.load_ids}
        return (_rebuild, (type(self), self.args, fields))


class LoadFailedError(DltProviderError):
    """dlt reported failed load jobs."""


class DataContractError(DltProviderError):
    """dlt found data violating a schema contract (``freeze``); the message names the table and column."""


class ScaffoldError(DltProviderError, ValueError):
    """``airflow-dlt init`` cannot build a DAG from the given pipeline script or options."""


class DagFolderImportError(DltProviderError, AssertionError):
    """DAG files of a folder failed to import (pytest plugin: ``dlt_dagbag``, ``load_dag_folder``)."""


class PoolsNotDeclaredError(DltProviderError, AssertionError):
    """dlt tasks use pools that are not declared (pytest plugin: ``assert_dlt_pools_declared``)."""


class DltSourceCheckError(DltProviderError, AssertionError):
    """``assert_dlt_sources_valid``: a dlt task's source cannot be imported or names unknown resources."""


class PipelineBusyError(DltProviderError):
    """Another task instance holds the pipeline (its folder on this worker, or its lease in the package store).

    Deliberately not ``AirflowFailException``: the task fails and Airflow retries it later. The message names the
    holder (DAG, run, task, map index, try, worker host, pid) as far as it is known, never a secret.
    """


class PipelineLeaseLostError(PipelineBusyError):
    """The package-store lease of a held pipeline was taken over (or could not be renewed) while it was held.

    Raised before the holder's next write to the store or step of dlt, so that two tasks never both change the
    pipeline's state. Retryable like :class:`PipelineBusyError`; the message names who holds the lease now.
    """


class ConcurrentDagRunError(DltProviderError):
    """A mapped group's discover task found another running DAG run of its DAG that loads the same components.

    Not ``AirflowFailException``: the task is retried, and passes once the other run is done.
    """


class DltProviderDeprecationWarning(DeprecationWarning):
    """An argument name or value that still works for one minor release; the message names its replacement.

    Attributed to the line of the DAG file that used it (pytest shows it; turn it into an error with
    ``-W error::airflow_dlt_provider.exceptions.DltProviderDeprecationWarning``).
    """


class UnprotectedPipelineWarning(UserWarning):
    """``pool=None``: the tasks of a pipeline run in Airflow's default pool, so nothing keeps two of them (or
    two DAG runs of one) from touching the pipeline's state at once. Silence it with
    ``warnings.filterwarnings("ignore", category=UnprotectedPipelineWarning)`` once that is what you want."""


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], fields: dict[str, Any]) -> BaseException:
    """Unpickle an error with keyword-only fields (``Exception.__reduce__`` passes only ``args``)."""
    return cls(*args, **fields)
