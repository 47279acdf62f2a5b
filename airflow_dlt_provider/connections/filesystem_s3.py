"""Airflow ``aws`` connection -> dlt ``filesystem`` destination on S3 (``extra.bucket_url``)."""

from __future__ import annotations

from airflow_dlt_provider.connections._aws import AwsMapping
from airflow_dlt_provider.connections._filesystem import FilesystemMapping


class FilesystemS3Mapping(AwsMapping, FilesystemMapping):
    name = "filesystem_s3"
    pip_extra = "s3"
    driver_modules = ("s3fs",)
    infer_when_any = ("extra.bucket_url",)
