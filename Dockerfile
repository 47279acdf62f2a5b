# Airflow 3.3 with airflow-dlt-provider installed from this repository (used by docker-compose.yaml).
#
#   docker compose build        # or: docker build -t airflow-dlt-provider:local .
#
# The package is installed together with a pinned apache-airflow so pip cannot up- or downgrade the Airflow
# that ships in the image (the pattern the official image documents for extra packages).
FROM apache/airflow:3.3.2-python3.11

ARG AIRFLOW_VERSION=3.3.2

# Folders that docker-compose.yaml mounts as named volumes: created here so that the volumes start out
# owned by the airflow user (uid 50000) instead of root.
USER root
RUN mkdir -p /opt/airflow/auth /opt/airflow/dlt /opt/airflow/logs \
    && chown -R airflow:root /opt/airflow/auth /opt/airflow/dlt /opt/airflow/logs
USER airflow

COPY --chown=airflow:root pyproject.toml README.md /opt/airflow/airflow-dlt-provider/
COPY --chown=airflow:root airflow_dlt_provider /opt/airflow/airflow-dlt-provider/airflow_dlt_provider

RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/airflow/airflow-dlt-provider[duckdb,postgres]"
