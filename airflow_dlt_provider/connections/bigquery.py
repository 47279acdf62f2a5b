"""Airflow ``google_cloud_platform`` connection -> dlt ``bigquery`` destination (key JSON, key file, ADC)."""

from __future__ import annotations

from airflow_dlt_provider.connections._gcp import GcpMapping, auth_variants


class _BigQuery(GcpMapping):
    destination = "bigquery"
    pip_extra = "bigquery"
    driver_modules = ("google.cloud.bigquery",)
    config_fields = {"location": ("extra.location", "extra.extra__google_cloud_platform__location")}


BigQueryKeyfileJsonMapping, BigQueryKeyfilePathMapping, BigQueryDefaultMapping = auth_variants(
    _BigQuery, class_prefix="BigQuery", name_prefix="bigquery"
)
