"""The generic ``dlt`` connection type: a destination name plus any dlt credentials in ``extra``.

``extra`` keys:

- ``destination``: the dlt destination (``postgres``, ``snowflake``, ``filesystem``, ...).
- ``credentials``: the destination's dlt credentials, as a dict of dlt field names or a native value
  (a connection string, a service account JSON string).
- ``secret_credentials``: secret dlt credential fields as a JSON object (``{"private_key": "..."}``), merged
  into ``credentials``; every value is masked (the form's masked field: ``credentials`` is shown as typed).
- ``destination_config``: other keyword arguments of the destination factory (``bucket_url``, ``location``);
  a JSON object or its text.

The standard fields, when set, become ``host``, ``port``, ``username``, ``password`` and ``database``
credentials (merged under ``credentials``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_dlt_provider.connections.base import (
    LOGIN_FIELDS,
    SERVER_FIELDS,
    ConnectionMapping,
    MappedValues,
    mask_secret_value,
    url_safe_credentials_type,
)
from airflow_dlt_provider.exceptions import ConnectionMappingError

SECRET_KEY_PATTERN = re.compile(r"password|secret|token|private_key|passphrase|account_key|api_key|sas", re.I)
"""dlt credential fields whose values are secrets (``password``, ``aws_secret_access_key``, ...)."""


class DltConnectionMapping(ConnectionMapping):
    name = "dlt"
    auth = "any dlt credentials in extra.credentials (dict or native value); standard fields merged in"
    conn_types = ("dlt",)
    destination = "any (extra.destination)"
    fields = {
        **SERVER_FIELDS,
        **LOGIN_FIELDS,
        "database": "schema",
        "credentials": "extra.credentials",
        "secret_credentials": "extra.secret_credentials",
    }
    config_fields = {"destination": "extra.destination", "destination_config": "extra.destination_config"}
    secret_fields = ("password", "secret_credentials")

    def values(self) -> MappedValues:
        values = super().values()
        credentials = self.transform_credentials(values.credentials.pop("credentials", None))
        secret = self._secret_credentials(values.credentials.pop("secret_credentials", None))
        mask_dlt_credentials(credentials)
        if secret:
            if isinstance(credentials, str):
                raise ConnectionMappingError(
                    f"Airflow connection {self.conn_id!r}: extra.credentials is a native value (a connection "
                    "string), so extra.secret_credentials cannot be merged into it; give both as JSON objects"
                )
            credentials = {**(credentials or {}), **secret}
        standard = values.credentials
        if isinstance(credentials, str):
            if standard:
                raise ConnectionMappingError(
                    f"Airflow connection {self.conn_id!r}: extra.credentials is a native value (a connection "
                    f"string), so the fields {', '.join(sorted(standard))} cannot be merged into it; "
                    "leave them empty or give extra.credentials as a dict"
                )
            values.credentials = {"native": credentials}
        else:
            values.credentials = {**(credentials or {}), **standard}
        config = self.transform_credentials(values.config.pop("destination_config", None) or {})
        if not isinstance(config, dict):
            raise ConnectionMappingError(
                f"Airflow connection {self.conn_id!r}: extra.destination_config must be a JSON object"
            )
        values.config.update(config)
        return values

    def _secret_credentials(self, value: Any) -> dict[str, Any]:
        """``extra.secret_credentials``: a JSON object of secret dlt fields (the form's masked field); every
        value is masked."""
        parsed = self.transform_credentials(value)
        if parsed is None or parsed == "":
            return {}
        if not isinstance(parsed, dict):
            raise ConnectionMappingError(
                f"Airflow connection {self.conn_id!r}: extra.secret_credentials must be a JSON object of dlt "
                'credential fields, e.g. {"private_key": "..."} (its value is not shown)'
            )
        for secret in parsed.values():
            mask_secret_value(secret)
        return parsed

    def transform_credentials(self, value: Any) -> Any:
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        if isinstance(value, str):
            return value
        raise ConnectionMappingError(
            f"Airflow connection {self.conn_id!r}: extra.credentials must be a JSON object or a string, "
            f"not {type(value).__name__}"
        )

    def credentials(self, values: MappedValues | None = None) -> Any:
        """A native value or a dict: dlt resolves either into the destination's credentials class."""
        values = values or self.values()
        return values.credentials.get("native", values.credentials) or None

    def destination_kwargs(self, values: MappedValues) -> dict[str, Any]:
        config = {k: v for k, v in values.config.items() if k != "destination"}
        credentials = self.credentials(values)
        return {**config, **({"credentials": credentials} if credentials else {})}

    def source_credentials(self) -> Any:
        """A ``ConnectionStringCredentials`` for connection strings (and dicts with ``drivername``)."""
        credentials = self.credentials()
        if (
            isinstance(credentials, str)
            and "://" in credentials
            or (isinstance(credentials, dict) and credentials.get("drivername"))
        ):
            from dlt.sources.credentials import ConnectionStringCredentials

            built = url_safe_credentials_type(ConnectionStringCredentials)(credentials)
            if built.password:
                mask_secret_value(built.password)
            return built
        return credentials


def mask_dlt_credentials(credentials: Any) -> None:
    """Mask a native credentials value entirely, and secret-looking keys of a dict (and their DSN forms)."""
    if credentials is None:
        return
    if isinstance(credentials, str):
        mask_secret_value(credentials)
        password = _url_password(credentials)
        if password:
            mask_secret_value(password)
        return
    for key, value in credentials.items():
        if SECRET_KEY_PATTERN.search(str(key)):
            mask_secret_value(value)


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        from sqlalchemy.engine import make_url

        return make_url(value).password  # type: ignore[no-any-return]
    except Exception:
        return None
