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
