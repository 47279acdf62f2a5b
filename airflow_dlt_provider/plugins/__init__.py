"""The Airflow UI side of the provider: the ``/dlt`` pages and API (Airflow 3.1+) and the "dlt pipeline" link.

``links`` is imported by the operator (cheap); ``plugin`` is what Airflow loads through the ``airflow.plugins``
entry point; ``app`` (FastAPI routes), ``queries`` (auth manager, metadata DB), ``read`` (summaries ->
dataclasses) and ``render`` (HTML/SVG) are imported by the API server only.
"""
