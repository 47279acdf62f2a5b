"""Exception types of the provider. Every message names the wrong value and what is accepted."""

from __future__ import annotations


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
    """The schema changed while ``on_schema_change='fail'``."""


class RowExpectationError(DltProviderError):
    """A table loaded fewer or more rows than ``expect_rows`` allows, with the action ``"fail"``."""


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
