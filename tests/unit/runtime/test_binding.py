"""Bindings: which destination and dataset pending packages belong to (runtime/binding.py)."""

from __future__ import annotations

import dlt

from airflow_dlt_provider.runtime.binding import binding_for


@dlt.destination(batch_size=10, name="binding_sink")
def binding_sink(items, table, api_url: str = dlt.config.value, api_key: str = dlt.secrets.value):
    pass


def test_one_function_sending_rows_elsewhere_is_another_binding(monkeypatch):
    monkeypatch.setenv("DESTINATION__BINDING_SINK__API_KEY", "key-one")
    monkeypatch.setenv("DESTINATION__BINDING_SINK__API_URL", "https://one.example.test")
    first = binding_for(binding_sink, "raw")
    monkeypatch.setenv("DESTINATION__BINDING_SINK__API_KEY", "key-two")  # a rotated secret: same place
    assert binding_for(binding_sink, "raw") == first
    monkeypatch.setenv("DESTINATION__BINDING_SINK__API_URL", "https://two.example.test")
    second = binding_for(binding_sink, "raw")

    assert second.key != first.key
    assert first.location.startswith(f"{__name__}.binding_sink")
    assert "key-one" not in first.describe() and "one.example" not in first.describe()
    assert binding_for(binding_sink, "other_dataset").key != first.key


def test_sql_destinations_bind_to_their_place_without_credentials():
    one = binding_for(dlt.destinations.postgres("postgresql://u:pw1@db1:5432/shop"), "raw")
    rotated = binding_for(dlt.destinations.postgres("postgresql://u:pw2@db1:5432/shop"), "raw")
    other = binding_for(dlt.destinations.postgres("postgresql://u:pw1@db2:5432/shop"), "raw")

    assert one == rotated and one.key != other.key
    assert "pw1" not in one.describe() and one.location == "db1/5432/shop"


def test_a_function_in_a_dag_file_binds_by_its_file_name_not_the_files_path(tmp_path):
    """Airflow names a DAG file's module after a hash of its path: a moved file (a new bundle version, another
    mount) must keep its pending packages."""
    import sys
    import textwrap

    from airflow_dlt_provider._compat import dag_bag

    bindings = []
    for folder in ("v1", "v2"):
        path = tmp_path / folder / "sink_dag.py"
        path.parent.mkdir()
        path.write_text(
            textwrap.dedent(
                """
                import dlt, pendulum
                from airflow import DAG

                @dlt.destination(batch_size=10, name="moved_sink")
                def moved_sink(items, table):
                    pass

                with DAG("moved", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
                    pass
                """
            )
        )
        bag = dag_bag(str(path))
        module = next(m for m in sys.modules.values() if getattr(m, "__file__", None) == str(path))
        assert module.__name__.startswith("unusual_prefix_") and "moved" in bag.dags
        bindings.append(binding_for(module.moved_sink, "raw"))

    assert bindings[0] == bindings[1]
    assert bindings[0].location.startswith("sink_dag.moved_sink (settings ")
