"""The generic ``dlt`` connection type in Airflow: provider info, connection form, ``DltHook``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_dlt_provider.hooks import form
from airflow_dlt_provider.hooks.dlt import DltHook
from airflow_dlt_provider.provider_info import get_provider_info


def test_provider_info_validates_against_the_installed_airflow_schema():
    import airflow
    import jsonschema

    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    jsonschema.validate(get_provider_info(), json.loads(schema_path.read_text()))
    (entry,) = get_provider_info()["connection-types"]
    assert entry["connection-type"] == "dlt"
    assert entry["hook-class-name"] == f"{DltHook.__module__}.{DltHook.__name__}"


def test_declarative_form_follows_the_provider_yaml_schema():
    """Airflow 3.2+ reads `conn-fields` / `ui-field-behaviour`; their schema ships with Airflow 3.2+."""
    import airflow
    import jsonschema

    schema_path = Path(airflow.__file__).parent / "provider.yaml.schema.json"
    item_schema = json.loads(schema_path.read_text())["properties"]["connection-types"]["items"]
    if "conn-fields" not in item_schema["properties"]:
        pytest.skip("this Airflow has no declarative connection fields (added in 3.2)")
    jsonschema.validate(form.connection_type_info(), item_schema)


def _connection_forms_load() -> bool:
    """Airflow 3.2+ reads the declarative form; before, a hook's form needs flask_appbuilder (Airflow 3.1
    without the FAB provider registers no hook's form: "UI widgets will be missing")."""
    import importlib.util

    from airflow_dlt_provider._compat import AIRFLOW_V_3_0_PLUS

    if not AIRFLOW_V_3_0_PLUS:
        return True
    from airflow import __version__

    major_minor = tuple(int(part) for part in __version__.split(".")[:2])
    return major_minor >= (3, 2) or importlib.util.find_spec("flask_appbuilder") is not None


@pytest.mark.skipif(not _connection_forms_load(), reason="Airflow 3.1 without flask_appbuilder loads no form")
def test_providers_manager_registers_the_dlt_type_with_its_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.hooks["dlt"].hook_class_name == form.HOOK_CLASS_NAME
    behaviour = manager.field_behaviours["dlt"]
    assert behaviour["relabeling"] == {"schema": "Database", "login": "Username"}
    widgets = manager.connection_form_widgets
    assert {
        "extra__dlt__destination",
        "extra__dlt__credentials",
        "extra__dlt__secret_credentials",
        "extra__dlt__destination_config",
    } <= set(widgets)
    assert widgets["extra__dlt__secret_credentials"].is_sensitive
    assert not widgets["extra__dlt__credentials"].is_sensitive


def test_hook_methods_for_older_airflow():
    behaviour = DltHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["schema"] == "Database"
    pytest.importorskip(
        "wtforms", reason="the connection form widgets need wtforms (the Airflow 2 webserver)"
    )
    pytest.importorskip("flask_appbuilder", reason="the connection form widgets need flask_appbuilder")
    widgets = DltHook.get_connection_form_widgets()
    assert set(widgets) == set(form.CONN_FIELDS)


def test_hook_builds_nothing_until_asked(make_conn, tmp_path):
    hook = DltHook("no_such_conn_for_hook")  # no lookup in the constructor
    assert hook.dlt_conn_id == "no_such_conn_for_hook"
    conn_id = make_conn("duckdb", host=str(tmp_path / "h.duckdb"))
    assert DltHook(conn_id).get_destination().destination_name == "duckdb"


def test_the_form_offers_dlts_destinations_a_multiline_json_and_masks_only_secrets():
    import dlt.destinations

    assert set(form.DESTINATIONS) == set(dlt.destinations.__all__) - {"destination"}
    fields = form.CONN_FIELDS
    assert fields["destination"]["schema"]["enum"] == list(form.DESTINATIONS)
    assert fields["credentials"]["schema"]["format"] == "multiline"  # readable, not one masked line
    assert fields["destination_config"]["schema"]["format"] == "multiline"
    assert fields["secret_credentials"]["schema"]["format"] == "password"
    assert {spec["schema"]["section"] for spec in fields.values()} == {form.SECTION}


def test_secret_credentials_are_merged_and_masked(make_conn, tmp_path):
    from airflow_dlt_provider import _compat
    from airflow_dlt_provider.connections import map_connection

    secret = "Form-secret-7731"
    conn_id = make_conn(
        "dlt",
        extra={
            "destination": "postgres",
            "credentials": '{"host": "db.example", "username": "loader", "database": "dwh"}',
            "secret_credentials": json.dumps({"password": secret}),
            "destination_config": '{"create_indexes": false}',
        },
    )
    mapped = map_connection(conn_id)
    assert mapped.kwargs["credentials"] == {
        "host": "db.example",
        "username": "loader",
        "database": "dwh",
        "password": secret,
    }
    assert mapped.kwargs["create_indexes"] is False
    assert secret not in str(_compat.redact(f"connection failed for {secret}"))
