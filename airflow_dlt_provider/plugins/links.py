"""The "dlt pipeline" operator extra link of every dlt task (imported by the operator: keep it cheap)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_dlt_provider._compat import BaseOperatorLink, dlt_pipeline_link

__all__ = ["DltPipelineLink"]


class DltPipelineLink(BaseOperatorLink):  # type: ignore[misc]
    """Opens ``/dlt/pipelines/<pipeline_name>`` (Airflow 3.1+); on Airflow 2 the task's XCom (the summary)."""

    name: ClassVar[str] = "dlt pipeline"  # type: ignore[misc]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Airflow 2's webserver asks the *serialized* operator, which has no pipeline_name (its link needs none)
        return dlt_pipeline_link(str(getattr(operator, "pipeline_name", "")), ti_key)
