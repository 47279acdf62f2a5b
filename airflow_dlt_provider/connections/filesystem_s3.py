"""Airflow ``aws`` connection -> dlt ``filesystem`` destination on S3 (``extra.bucket_url``)."""

from __future__ import annotations

from airflow_dlt_provider.connections._aws import AwsMapping


class FilesystemS3Mapping(AwsMapping):
    name = "filesystem_s3"
    destination = "filesystem"
    pip_extra = "s3"
    driver_modules = ("s3fs",)
    config_fields = {"bucket_url": "extra.bucket_url"}
    required = ("bucket_url",)
    infer_when_any = ("extra.bucket_url",)
