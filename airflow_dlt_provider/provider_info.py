"""Provider metadata read by Airflow's provider manager (``apache_airflow_provider`` entry point).

Must stay cheap: no dlt and no Airflow import here.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "airflow-dlt-provider"


def get_provider_info() -> dict[str, Any]:
    from airflow_dlt_provider import __version__
    from airflow_dlt_provider.assets.schemes import provider_asset_uris
    from airflow_dlt_provider.hooks.form import connection_type_info
    from airflow_dlt_provider.settings import provider_config

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
        # `airflow dlt pools sync|export`, `check`, `init` where Airflow reads the key (Airflow 2 ignores it)
        "cli": ["airflow_dlt_provider.cli.main.get_airflow_cli_commands"],
        # the [dlt] options: `airflow config list --section dlt` shows them (one table: settings.OPTIONS)
        "config": provider_config(),
        # the URI schemes the provider introduces (dlt://, duckdb:); Airflow 2 reads `dataset-uris`
        "asset-uris": provider_asset_uris(),
        "dataset-uris": provider_asset_uris(),
        "integrations": [
            {
                "integration-name": "dlt",
                "external-doc-url": "https://dlthub.com/docs",
                "tags": ["software"],
            }
        ],
    }
