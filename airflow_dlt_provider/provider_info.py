"""Provider metadata read by Airflow's provider manager (``apache_airflow_provider`` entry point).

Must stay cheap: no dlt and no Airflow import here.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "airflow-dlt-provider"


def get_provider_info() -> dict[str, Any]:
    from airflow_dlt_provider import __version__
    from airflow_dlt_provider.hooks.form import connection_type_info

    return {
        "package-name": PACKAGE_NAME,
        "name": "dlt",
        "description": "Run dlt (data load tool) sources as Airflow tasks, with pools, connections and assets.",
        "versions": [__version__],
        "hooks": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.hooks.dlt"]},
        ],
        # the generic `dlt` connection type: declarative form (Airflow 3.2+) + DltHook methods (older)
        "connection-types": [connection_type_info()],
        "operators": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.operators.run"]},
        ],
        "task-groups": [
            {"integration-name": "dlt", "python-modules": ["airflow_dlt_provider.authoring.task_group"]},
        ],
        # the UI (Airflow 3.1+); also an `airflow.plugins` entry point, which lazy provider discovery loads
        "plugins": [
            {
                "name": "airflow_dlt_provider",
                "plugin-class": "airflow_dlt_provider.plugins.plugin.DltUiPlugin",
            }
        ],
        "extra-links": ["airflow_dlt_provider.plugins.links.DltPipelineLink"],
        # `airflow dlt pools sync|export` on Airflow 3.x (the key is ignored by Airflow 2)
        "cli": ["airflow_dlt_provider.cli.main.get_airflow_cli_commands"],
        "integrations": [
            {
                "integration-name": "dlt",
                "external-doc-url": "https://dlthub.com/docs",
                "tags": ["software"],
            }
        ],
    }
