"""The ``[dlt]`` options are read in one module, ``airflow_dlt_provider/settings.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_dlt_provider import settings
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime import holder

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_dlt_provider"
DIRECT_READ = re.compile(r"""conf(?:_get|\.get)\(\s*["']dlt["']|["']AIRFLOW__DLT__""")


def test_no_module_but_settings_reads_the_dlt_section():
    readers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py" and DIRECT_READ.search(path.read_text())
    ]
    assert readers == []


def test_seconds_use_the_declared_default_and_name_a_wrong_value(monkeypatch):
    monkeypatch.delenv("AIRFLOW__DLT__HOLDER_WAIT_SECONDS", raising=False)
    assert settings.seconds("holder_wait_seconds", minimum=0) == holder.DEFAULT_WAIT_SECONDS == 300.0
    monkeypatch.setenv("AIRFLOW__DLT__HOLDER_WAIT_SECONDS", "-1")
    with pytest.raises(
        InvalidArgumentError, match=r"\[dlt\] holder_wait_seconds = '-1'.*>= 0 \(default 300\)"
    ):
        settings.seconds("holder_wait_seconds", minimum=0)
    with pytest.raises(KeyError, match="not an option of the dlt provider"):
        settings.seconds("holder_wait", minimum=0)


def test_the_package_store_key_falls_back_to_airflows_secrets_in_order(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "mine")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "fernet")
    sources = settings.package_store_key_sources()
    assert next(sources) == ("dlt", "package_store_key", "mine")
    assert next(sources) == ("core", "fernet_key", "fernet")
    section, option, _ = next(sources)
    assert section in ("api", "webserver") and option == "secret_key"
    assert settings.env_var("package_store_key") == "AIRFLOW__DLT__PACKAGE_STORE_KEY"
