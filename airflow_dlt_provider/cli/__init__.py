"""``airflow-dlt`` and ``airflow dlt``: ``pools sync|export``, ``init``, ``check``, declared once (``commands.py``)."""
