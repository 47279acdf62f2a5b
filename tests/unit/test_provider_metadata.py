"""Provider metadata: the [dlt] config section, the asset URI schemes, the settings reader (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_dlt_provider import _compat, settings
from airflow_dlt_provider.assets import schemes
from airflow_dlt_provider.provider_info import get_provider_info

REPO_ROOT = Path(__file__).resolve().parents[2]
# schemes official providers (or Airflow itself) register: never ours
OFFICIAL_SCHEMES = {
    "postgres",
    "postgresql",
    "redshift",
    "mssql",
    "bigquery",
    "snowflake",
    "file",
    "s3",
    "gs",
    "gcs",
    "az",
    "abfs",
    "mysql",
    "trino",
}


def test_provider_info_validates_and_declares_every_option_the_code_reads() -> None:
    import airflow
    import jsonschema

    info = get_provider_info()
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
    options = info["config"]["dlt"]["options"]
    assert set(options) == {
        "base_dir",
        "working_dir",
        "package_store",
        "package_store_conn_id",
        "package_store_key",
        "holder_wait_seconds",
        "holder_lease_seconds",
    }
    for name, option in options.items():
        assert option["description"] and option["example"] and option["type"] in ("string", "float"), name
    assert options["package_store_key"]["sensitive"] is True
    # every `[dlt] <option>` the package reads is declared (a new option cannot skip the metadata)
    package = REPO_ROOT / "airflow_dlt_provider"
    read = set()
    for path in package.rglob("*.py"):
        text = path.read_text()
        read |= {part.split('"')[0] for part in text.split('conf_get("dlt", "')[1:]}
        read |= {part.split('"')[0] for part in text.split('settings.option("')[1:]}
    assert read and read <= set(options), read - set(options)


def test_asset_uris_cover_the_schemes_the_provider_introduces_and_no_official_one() -> None:
    info = get_provider_info()
    assert info["asset-uris"] == info["dataset-uris"]
    declared = {scheme for entry in info["asset-uris"] for scheme in entry["schemes"]}
    assert declared == {"dlt", "duckdb"}
    assert not declared & OFFICIAL_SCHEMES
    import importlib

    for entry in info["asset-uris"]:
        for key in ("handler", "factory", "to_openlineage_converter"):
            module, _, name = entry[key].rpartition(".")
            assert callable(getattr(importlib.import_module(module), name)), entry[key]


def test_airflow_normalizes_dlt_and_duckdb_uris_through_the_provider() -> None:
    asset = _compat.Asset("dlt://warehouse/raw_github/issues")
    assert asset.uri == "dlt://warehouse/raw_github/issues"
    assert schemes.create_dlt_asset(target="warehouse", dataset="raw_github", table="issues").uri == asset.uri
    duck = schemes.create_duckdb_asset(path="/data/github.duckdb", dataset="raw", table="issues")
    assert duck.uri in ("duckdb:/data/github.duckdb/raw/issues", "duckdb:///data/github.duckdb/raw/issues")
    assert _compat.Asset("dlt://warehouse/raw/issues?x=1#y").uri == "dlt://warehouse/raw/issues"
    # Airflow 3 refuses a URI its normalizer rejects; Airflow 2 keeps it and warns (unless strict validation)
    refused = pytest.raises(ValueError) if _compat.AIRFLOW_V_3_0_PLUS else pytest.warns(UserWarning)
    with refused as caught:
        _compat.Asset("dlt:///raw/issues")
    assert "must contain a target" in str(
        caught.value if _compat.AIRFLOW_V_3_0_PLUS else caught.list[0].message
    )
    refused = pytest.raises(ValueError) if _compat.AIRFLOW_V_3_0_PLUS else pytest.warns(UserWarning)
    with refused as caught:
        _compat.Asset("duckdb://somehost/data/x.duckdb/raw/issues")
    assert "local file" in str(caught.value if _compat.AIRFLOW_V_3_0_PLUS else caught.list[0].message)


def test_openlineage_names_match_the_operators_own_lineage() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow_dlt_provider.assets.locations import DestinationLocation

    dlt_ds = schemes.convert_dlt_asset_to_openlineage(_compat.Asset("dlt://warehouse/raw/issues"), None)
    assert (dlt_ds.namespace, dlt_ds.name) == ("dlt://warehouse", "raw/issues")
    duck = schemes.create_duckdb_asset(path="/data/github.duckdb", dataset="raw", table="issues")
    duck_ds = schemes.convert_duckdb_asset_to_openlineage(duck, None)
    expected = DestinationLocation("duckdb", path="/data/github.duckdb").openlineage_name("raw", "issues")
    assert (duck_ds.namespace, duck_ds.name) == expected


def test_settings_read_the_environment_and_treat_blank_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", "  s3://bucket/prefix ")
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_CONN_ID", "   ")
    assert settings.option("package_store") == "s3://bucket/prefix"
    assert settings.option("package_store_conn_id") is None
    with pytest.raises(KeyError, match="options: base_dir, holder_lease_seconds"):
        settings.option("packagestore")


def test_configuration_reference_is_generated_from_the_settings() -> None:
    page = (REPO_ROOT / "docs" / "reference" / "configuration.md").read_text()
    assert page == settings.reference_markdown(), "regenerate: python -m airflow_dlt_provider.settings"
    for option in settings.OPTIONS:
        assert f"`{option.env_var}`" in page


def test_common_compat_routing_falls_back_without_its_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a common-compat older than 1.8 (MWAA 2.10.1 pins 1.2.0, 3.0.6 pins 1.7.3) _compat still routes."""
    monkeypatch.setattr(_compat, "common_compat_sdk", lambda: None)
    for name in _compat._ROUTES:
        value = _compat.routed(name)
        assert value is not None, name
    assert issubclass(_compat.routed("AirflowFailException"), Exception)
    assert hasattr(_compat.routed("BaseHook"), "get_connection")
    monkeypatch.setenv("AIRFLOW__DLT__BASE_DIR", "/srv/dlt")
    assert settings.option("base_dir") == "/srv/dlt"
