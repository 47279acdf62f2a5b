"""Provider metadata read by Airflow's provider manager (``apache_airflow_provider`` entry point).

Must stay cheap: no dlt and no Airflow import here.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "airflow-dlt-provider"


def get_provider_info() -> dict[str, Any]:
    from airflow_dlt_provider import __version__

    return {
        "package-name": PACKAGE_NAME,
        "name": "dlt",
        "description": "Run dlt (data load tool) sources as Airflow tasks, with pools, connections and assets.",
        "versions": [__version__],
        "hooks": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.hooks.dlt"]},
        ],
        "operators": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.operators.run"]},
        ],
        "task-groups": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.task_group"]},
        ],
        "integrations": [
            {
                "integration-name": "dlt",
                "external-doc-url": "https://dlthub.com/docs",
                "tags": ["software"],
            }
        ],
    }
