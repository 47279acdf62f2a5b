"""The asset URI schemes this provider introduces: normalizer, factory and OpenLineage converter of each.

Declared in the provider metadata (``asset-uris`` for Airflow 3, ``dataset-uris`` for Airflow 2), so Airflow
validates and normalizes these URIs wherever they are written (a DAG's ``schedule``, an outlet, an event
added through an alias) and turns them into OpenLineage datasets.

* ``dlt://<target>/<dataset>/<table>``: the logical URI of a table (:func:`..uris.logical_uri`).
* ``duckdb:/<absolute path of the file>/<dataset>/<table>``: where a DuckDB table lives (the event's
  ``location``); ``duckdb:///<path>/...`` names the same table.

Schemes an official provider or Airflow itself owns are never registered here, although the provider writes
such URIs as locations: ``postgres``, ``redshift``, ``mssql``, ``bigquery``, ``snowflake``, ``file``, ``s3``,
``gs``/``gcs``, ``az``/``abfs``. MotherDuck tables have no location URI (no host in their credentials), so no
``md:`` scheme is registered either.

No Airflow or dlt import at module level: Airflow imports these functions while it discovers providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_dlt_provider.assets.uris import LOGICAL_SCHEME, logical_uri, uri_part

if TYPE_CHECKING:
    from urllib.parse import SplitResult

DUCKDB_SCHEME = "duckdb"


# ---------------------------------------------------------------- dlt://<target>/<dataset>/<table>


def sanitize_dlt_uri(uri: SplitResult) -> SplitResult:
    """Normalize a ``dlt://`` URI (no query, no fragment); refuse one without a target.

    The provider writes ``dlt://<target>/<dataset>/<table>``; other paths under a target are left as they
    are (a user's own ``dlt://`` assets keep working).
    """
    if not uri.netloc:
        raise ValueError(
            f"URI format {LOGICAL_SCHEME}:// must contain a target: dlt://<target>/<dataset>/<table>"
        )
    return uri._replace(scheme=LOGICAL_SCHEME, query="", fragment="")


def create_dlt_asset(*, target: str, dataset: str, table: str, extra: dict[str, Any] | None = None) -> Any:
    """The asset of table ``table`` in ``dataset`` at ``target`` (a connection id or a destination name)."""
    from airflow_dlt_provider._compat import Asset

    return Asset(uri=logical_uri(target, dataset, table), extra=extra or {})


def convert_dlt_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a ``dlt://`` asset: namespace ``dlt://<target>``, name ``<dataset>/<table>``.

    The same names the operator's own lineage uses when it cannot tell the destination's location.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    parsed = urlsplit(asset.uri)
    return OpenLineageDataset(namespace=f"{LOGICAL_SCHEME}://{parsed.netloc}", name=parsed.path.lstrip("/"))


# ---------------------------------------------------------------- duckdb:/<file>/<dataset>/<table>


def _duckdb_parts(path: str) -> tuple[str, str, str]:
    file_path, _, rest = path.rstrip("/").rpartition("/")
    file_path, _, dataset = file_path.rpartition("/")
    return file_path, dataset, rest


def sanitize_duckdb_uri(uri: SplitResult) -> SplitResult:
    """Normalize a DuckDB location URI: a local file (no host), then the dataset and the table."""
    if uri.netloc:
        raise ValueError(
            f"URI format {DUCKDB_SCHEME}: names a local file: duckdb:/<absolute path>/<dataset>/<table> "
            f"(got host {uri.netloc!r})"
        )
    file_path, dataset, table = _duckdb_parts(uri.path)
    if not file_path.startswith("/") or len(file_path) < 2 or not dataset or not table:
        raise ValueError(
            f"URI format {DUCKDB_SCHEME}: must contain the database file's absolute path, a dataset and a "
            "table name: duckdb:/<absolute path>/<dataset>/<table>"
        )
    return uri._replace(scheme=DUCKDB_SCHEME, query="", fragment="")


def create_duckdb_asset(*, path: str, dataset: str, table: str, extra: dict[str, Any] | None = None) -> Any:
    """The asset of a DuckDB table: ``path`` is the database file (absolute)."""
    from urllib.parse import quote

    from airflow_dlt_provider._compat import Asset

    return Asset(
        uri=f"{DUCKDB_SCHEME}:{quote(path)}/{uri_part(dataset)}/{uri_part(table)}", extra=extra or {}
    )


def convert_duckdb_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """Namespace ``duckdb://<file>``, name ``<file stem>.<dataset>.<table>`` (as the operator's lineage)."""
    from pathlib import PurePosixPath

    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    file_path, dataset, table = _duckdb_parts(unquote(urlsplit(asset.uri).path))
    return OpenLineageDataset(
        namespace=f"{DUCKDB_SCHEME}://{file_path}", name=f"{PurePosixPath(file_path).stem}.{dataset}.{table}"
    )


def provider_asset_uris() -> list[dict[str, Any]]:
    """The provider metadata's ``asset-uris`` (and, the same list, ``dataset-uris`` for Airflow 2)."""
    module = __name__
    return [
        {
            "schemes": [LOGICAL_SCHEME],
            "handler": f"{module}.sanitize_dlt_uri",
            "factory": f"{module}.create_dlt_asset",
            "to_openlineage_converter": f"{module}.convert_dlt_asset_to_openlineage",
        },
        {
            "schemes": [DUCKDB_SCHEME],
            "handler": f"{module}.sanitize_duckdb_uri",
            "factory": f"{module}.create_duckdb_asset",
            "to_openlineage_converter": f"{module}.convert_duckdb_asset_to_openlineage",
        },
    ]
