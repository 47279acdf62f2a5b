"""What the tests share, named after what it provides (on ``sys.path`` through pytest's ``pythonpath``).

``dag_runs`` (DAG files, ``dag.test()`` and ``airflow dags test`` runs, and reading what they loaded),
``sample_data`` (the shipped GitHub sample), ``secrets`` (connections with hard secrets and the checks that they
never show), ``scripts`` (the repository's scripts as modules), ``postgres`` / ``redis`` / ``airflow_cluster`` /
``browser`` / ``auth_managers`` (throwaway servers and a real Airflow), ``parallel_dag`` (a DAG that uses all of
dlt's parallelism), ``sources`` (small dlt sources the tests load) and ``faults`` (the fault-matrix harness).
"""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
EXAMPLES_DIR = REPO_ROOT / "dags_examples"
