"""Airflow ``google_cloud_platform`` connection -> dlt ``filesystem`` destination on GCS (``extra.bucket_url``)."""

from __future__ import annotations

from airflow_dlt_provider.connections._filesystem import FilesystemMapping
from airflow_dlt_provider.connections._gcp import GcpMapping, auth_variants


class _Gcs(GcpMapping, FilesystemMapping):
    pip_extra = "gs"
    driver_modules = ("gcsfs",)
    infer_when_any = ("extra.bucket_url",)


FilesystemGcsKeyfileJsonMapping, FilesystemGcsKeyfilePathMapping, FilesystemGcsDefaultMapping = auth_variants(
    _Gcs, class_prefix="FilesystemGcs", name_prefix="filesystem_gcs"
)
