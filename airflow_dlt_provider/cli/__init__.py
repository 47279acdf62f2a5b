"""``airflow-dlt``: ``pools sync|export``, ``init``, ``check``."""
