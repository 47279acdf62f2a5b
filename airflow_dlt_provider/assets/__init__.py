"""Airflow assets (datasets on Airflow 2) and lineage names for the tables a dlt task loads.

One asset per table, and its location
-------------------------------------
A table is one asset, named by a URI known at DAG parse time; its real location is only known on the worker
(the host, database or bucket lives in an Airflow connection, and parse time never looks connections up), so
it travels in the event's ``extra`` (and in the OpenLineage datasets), not as a second asset:

* the **logical URI** ``dlt://<target>/<dataset>/<table>``, known at parse time. ``<target>`` is the
  ``destination_conn_id`` when there is one, else the destination's name (``duckdb``, ``bigquery``...); the
  embedded DuckDB default keeps one file per pipeline, so its target is ``duckdb.<pipeline_name>``. The same
  DAG gives the same URI in dev and prod, and a consumer DAG can name it without knowing any host:
  ``schedule=[table_asset("warehouse", "raw_github", "issues")]``.
* the **location URI**, built on the worker from the destination's configuration (never its secrets),
  following the Airflow and OpenLineage conventions:

  ==============  ==================================================================
  postgres        ``postgres://host:port/database/schema/table`` (port always written)
  redshift        ``redshift://host:port/database/schema/table``
  mssql           ``mssql://host:port/database/schema/table``
  bigquery        ``bigquery://project/dataset/table``
  snowflake       ``snowflake://account/database/schema/table``
  duckdb          ``duckdb:///abs/path/file.duckdb/dataset/table``; Airflow 2.11 and 3.3 store it as
                  ``duckdb:/abs/path/file.duckdb/dataset/table`` (no authority), which is what
                  :func:`location_uri` returns, so both spellings name the same asset
  filesystem      ``<bucket_url>/<dataset>/<table>``: ``file:///abs/path/...``, ``s3://bucket/...``,
                  ``gs://bucket/...``, ``az://container/...``
  other SQL       ``<type>://host:port/database/schema/table`` when the credentials have a host
  ==============  ==================================================================

  User name, password and query parameters never enter a URI or an event's ``extra``.

What Airflow receives
---------------------
* Tables known at parse time -- the resources of a source *object* passed to the operator, or for a factory
  (never called at parse time just for this) the ``resources`` named, each loading the table of its name, when ``dataset_name`` is given and both names are already what dlt
  writes (lower-case ``[a-z][a-z0-9_]*``) -- are declared as outlets with their logical URI. Airflow emits their
  event when the task succeeds; the task fills in ``extra`` (``rows`` is 0 when the resource yielded nothing).
* Every other table (child tables such as ``issues__labels``, tables of factories without ``resources``,
  dynamic table names) reaches Airflow through the asset alias ``dlt:<pipeline_name>``, also an outlet of the
  task: ``outlet_events[alias].add(Asset(uri), extra=...)``.
* ``extra`` of every event: ``rows``, ``load_id``, ``pipeline_name``, ``dataset_name``, ``table``,
  ``destination``, and ``location`` (the location URI, when known). ``dataset_name`` and
  the URIs use the names dlt used at the destination (``My-Data`` becomes ``my_data``).

``emit_assets=False`` declares no outlets and emits nothing.
"""
