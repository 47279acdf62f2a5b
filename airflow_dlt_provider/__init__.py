"""Apache Airflow provider for dlt.

Public names resolve lazily so that ``import airflow_dlt_provider`` (and Airflow's provider discovery)
imports neither dlt nor Airflow operators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_OPERATORS = "airflow_dlt_provider.operators"
_EXCEPTIONS = "airflow_dlt_provider.exceptions"
_VOCABULARY = "airflow_dlt_provider.authoring.vocabulary"

_PUBLIC_NAMES: dict[str, str] = {
    # building DAGs
    "DltTaskGroup": "airflow_dlt_provider.authoring.task_group",
    "DltRunOperator": f"{_OPERATORS}.run",
    "DltDiscoverOperator": f"{_OPERATORS}.mapped",
    "DltMappedRunOperator": f"{_OPERATORS}.mapped",
    "RowExpectation": "airflow_dlt_provider.authoring.arguments",
    "DltHook": "airflow_dlt_provider.hooks.dlt",
    "table_asset": "airflow_dlt_provider.assets.uris",
    # the accepted values of every mode and action argument (typing only)
    "Alert": _VOCABULARY,
    "Decompose": _VOCABULARY,
    "OnSchemaChange": _VOCABULARY,
    "ParseCache": _VOCABULARY,
    "RowExpectationAction": _VOCABULARY,
    "RunKwargs": _VOCABULARY,
    # errors and warnings
    "DltProviderError": _EXCEPTIONS,
    "InvalidArgumentError": _EXCEPTIONS,
    "SourceResolutionError": _EXCEPTIONS,
    "UnknownResourceError": _EXCEPTIONS,
    "ConnectionMappingError": _EXCEPTIONS,
    "ConnectionNotFoundError": _EXCEPTIONS,
    "MissingExtraError": _EXCEPTIONS,
    "SchemaChangeError": _EXCEPTIONS,
    "RowExpectationError": _EXCEPTIONS,
    "LoadFailedError": _EXCEPTIONS,
    "DataContractError": _EXCEPTIONS,
    "PipelineBusyError": _EXCEPTIONS,
    "PipelineLeaseLostError": _EXCEPTIONS,
    "ConcurrentDagRunError": _EXCEPTIONS,
    "DltProviderDeprecationWarning": _EXCEPTIONS,
    "UnprotectedPipelineWarning": _EXCEPTIONS,
}

__all__ = [
    "__version__",
    "DltTaskGroup",
    "DltRunOperator",
    "DltDiscoverOperator",
    "DltMappedRunOperator",
    "RowExpectation",
    "DltHook",
    "table_asset",
    "Alert",
    "Decompose",
    "OnSchemaChange",
    "ParseCache",
    "RowExpectationAction",
    "RunKwargs",
    "DltProviderError",
    "InvalidArgumentError",
    "SourceResolutionError",
    "UnknownResourceError",
    "ConnectionMappingError",
    "ConnectionNotFoundError",
    "MissingExtraError",
    "SchemaChangeError",
    "RowExpectationError",
    "LoadFailedError",
    "DataContractError",
    "PipelineBusyError",
    "PipelineLeaseLostError",
    "ConcurrentDagRunError",
    "DltProviderDeprecationWarning",
    "UnprotectedPipelineWarning",
]

if TYPE_CHECKING:
    from airflow_dlt_provider.assets.uris import table_asset
    from airflow_dlt_provider.authoring.arguments import RowExpectation
    from airflow_dlt_provider.authoring.task_group import DltTaskGroup
    from airflow_dlt_provider.authoring.vocabulary import (
        Alert,
        Decompose,
        OnSchemaChange,
        ParseCache,
        RowExpectationAction,
        RunKwargs,
    )
    from airflow_dlt_provider.exceptions import (
        ConcurrentDagRunError,
        ConnectionMappingError,
        ConnectionNotFoundError,
        DataContractError,
        DltProviderDeprecationWarning,
        DltProviderError,
        InvalidArgumentError,
        LoadFailedError,
        MissingExtraError,
        PipelineBusyError,
        PipelineLeaseLostError,
        RowExpectationError,
        SchemaChangeError,
        SourceResolutionError,
        UnknownResourceError,
        UnprotectedPipelineWarning,
    )
    from airflow_dlt_provider.hooks.dlt import DltHook
    from airflow_dlt_provider.operators.mapped import DltDiscoverOperator, DltMappedRunOperator
    from airflow_dlt_provider.operators.run import DltRunOperator


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'airflow_dlt_provider' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
