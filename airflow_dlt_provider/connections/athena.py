"""Airflow ``aws`` connection -> dlt ``athena`` destination."""

from __future__ import annotations

from airflow_dlt_provider.connections._aws import AwsMapping


class AthenaMapping(AwsMapping):
    name = "athena"
    destination = "athena"
    pip_extra = "athena"
    driver_modules = ("pyathena",)
    config_fields = {
        "query_result_bucket": "extra.query_result_bucket",
        "athena_work_group": ("extra.athena_work_group", "extra.work_group"),
        "aws_data_catalog": "extra.aws_data_catalog",
    }
    required = ("query_result_bucket",)
    infer_when_any = ("extra.query_result_bucket",)
