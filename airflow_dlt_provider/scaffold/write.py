"""``airflow-dlt init``: turn an existing dlt pipeline script into an Airflow DAG that uses ``DltTaskGroup``.

The script is read with :mod:`ast` and never executed: importing a pipeline script may open connections
or even run the pipeline. What is read: the ``@dlt.source`` / ``@dlt.resource`` functions defined at module
level, the ``dlt.pipeline(...)`` call (``pipeline_name``, ``destination``, ``dataset_name``) and which
source ``pipeline.run(...)`` loads. What is written: a DAG file in the DAGs folder (and the script itself when
it lives outside the DAGs folder, so that workers can import it). What is printed: the requirement lines for
Cloud Composer, Astronomer and MWAA, the pools to create and the connection to define.

Reading is :mod:`.read`, deciding :mod:`.decide`, the text :mod:`.render`; this module writes the files. The
command's arguments are declared in :mod:`airflow_dlt_provider.cli.commands`. Imports neither Airflow nor dlt.
"""

from __future__ import annotations

import shutil

from airflow_dlt_provider.exceptions import ScaffoldError
from airflow_dlt_provider.scaffold.decide import ScaffoldPlan
from airflow_dlt_provider.scaffold.render import instructions, render_dag


def write_scaffold(plan: ScaffoldPlan, *, force: bool = False) -> str:
    """Write the DAG ``plan`` describes (and copy the script when needed); return the text to print.

    Nothing is written when a file would be overwritten and ``force`` is false.
    """
    from airflow_dlt_provider import __version__

    if plan.dag_path.exists() and not force:
        raise ScaffoldError(f"{plan.dag_path} already exists; pass --force to overwrite it")
    copy_to = plan.copy_script_to
    if (
        copy_to is not None
        and copy_to.exists()
        and copy_to.read_bytes() != plan.script.path.read_bytes()
        and not force
    ):
        raise ScaffoldError(f"{copy_to} already exists with other content; pass --force to overwrite it")
    plan.dag_path.parent.mkdir(parents=True, exist_ok=True)
    if copy_to is not None:
        shutil.copyfile(plan.script.path, copy_to)
    plan.dag_path.write_text(render_dag(plan), encoding="utf-8")
    return instructions(plan, __version__)
