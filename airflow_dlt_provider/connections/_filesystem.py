"""The dlt ``filesystem`` destination part shared by the bucket mappings (S3, GCS, Azure)."""

from __future__ import annotations

from typing import ClassVar

from airflow_dlt_provider.connections.base import ConnectionMapping


class FilesystemMapping(ConnectionMapping):
    """Files in a bucket named by ``extra.bucket_url``, whose scheme (``s3://``, ``gs://``, ``az://``) picks the store."""

    destination = "filesystem"
    config_fields = {"bucket_url": "extra.bucket_url"}
    required: ClassVar[tuple[str, ...]] = ("bucket_url",)
