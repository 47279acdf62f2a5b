"""Airflow ``google_cloud_platform`` connection -> dlt ``bigquery`` destination (key JSON, key file, ADC)."""

from __future__ import annotations

from airflow_dlt_provider.connections._gcp import GcpDefault, GcpKeyfileJson, GcpKeyfilePath, GcpMapping


class _BigQuery(GcpMapping):
    destination = "bigquery"
    pip_extra = "bigquery"
    driver_modules = ("google.cloud.bigquery",)
    config_fields = {"location": ("extra.location", "extra.extra__google_cloud_platform__location")}


class BigQueryKeyfileJsonMapping(GcpKeyfileJson, _BigQuery):
    name = "bigquery_keyfile_json"


class BigQueryKeyfilePathMapping(GcpKeyfilePath, _BigQuery):
    name = "bigquery_keyfile_path"


class BigQueryDefaultMapping(GcpDefault, _BigQuery):
    name = "bigquery_adc"
