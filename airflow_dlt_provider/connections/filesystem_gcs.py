"""Airflow ``google_cloud_platform`` connection -> dlt ``filesystem`` destination on GCS (``extra.bucket_url``)."""

from __future__ import annotations

from airflow_dlt_provider.connections._gcp import GcpDefault, GcpKeyfileJson, GcpKeyfilePath, GcpMapping


class _Gcs(GcpMapping):
    destination = "filesystem"
    pip_extra = "gs"
    driver_modules = ("gcsfs",)
    config_fields = {"bucket_url": "extra.bucket_url"}
    required = ("bucket_url",)
    infer_when_any = ("extra.bucket_url",)


class FilesystemGcsKeyfileJsonMapping(GcpKeyfileJson, _Gcs):
    name = "filesystem_gcs_keyfile_json"


class FilesystemGcsKeyfilePathMapping(GcpKeyfilePath, _Gcs):
    name = "filesystem_gcs_keyfile_path"


class FilesystemGcsDefaultMapping(GcpDefault, _Gcs):
    name = "filesystem_gcs_adc"
