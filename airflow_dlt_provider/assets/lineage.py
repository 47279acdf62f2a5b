"""OpenLineage for ``DltRunOperator``: one output dataset per loaded table, with its columns and row count.

The OpenLineage provider is imported only here, and only when Airflow asks for lineage; without it the
operator works the same and this module is never imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_dlt_provider.assets.locations import RunDetails
from airflow_dlt_provider.assets.uris import logical_uri


def output_datasets(summary: Mapping[str, Any], details: RunDetails, target: str) -> list[Any]:
    """OpenLineage ``OutputDataset``s of the tables in ``summary`` (location names when known, else logical)."""
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    dataset_name = str(summary.get("dataset_name") or "")
    datasets = []
    for table, rows in sorted((summary.get("rows") or {}).items()):
        names = details.location.openlineage_name(dataset_name, table) if details.location else None
        if names is None:
            namespace, name = f"dlt://{target}", logical_uri(target, dataset_name, table).split("/", 3)[3]
        else:
            namespace, name = names
        fields = [
            SchemaDatasetFacetFields(name=column, type=data_type)
            for column, data_type in (details.columns.get(table) or {}).items()
        ]
        facets: dict[str, Any] = {"schema": SchemaDatasetFacet(fields=fields)}
        statistics = OutputStatisticsOutputDatasetFacet(rowCount=int(rows))
        datasets.append(
            OutputDataset(
                namespace=namespace, name=name, facets=facets, outputFacets={"outputStatistics": statistics}
            )
        )
    return datasets


def operator_lineage(summary: Mapping[str, Any] | None, details: RunDetails | None, target: str) -> Any:
    """``OperatorLineage`` for a finished run, or ``None`` without the OpenLineage provider or a run."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    if summary is None or details is None:
        return OperatorLineage()
    return OperatorLineage(outputs=output_datasets(summary, details, target))
