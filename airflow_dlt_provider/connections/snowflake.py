"""Airflow ``snowflake`` connection -> dlt ``snowflake`` destination: password and key-pair auth."""

from __future__ import annotations

from typing import ClassVar

from airflow_dlt_provider.connections.base import ConnectionMapping


def _extra(key: str) -> tuple[str, str]:
    """The extra key and its legacy ``extra__snowflake__`` name (Snowflake provider < 4)."""
    return (f"extra.{key}", f"extra.extra__snowflake__{key}")


class SnowflakePasswordMapping(ConnectionMapping):
    name = "snowflake_password"
    auth = "login and password"
    conn_types = ("snowflake",)
    destination = "snowflake"
    pip_extra = "snowflake"
    driver_modules = ("snowflake.connector",)
    fields = {
        "host": _extra("account"),
        "username": "login",
        "password": "password",
        "database": _extra("database"),
        "warehouse": _extra("warehouse"),
        "role": _extra("role"),
        "authenticator": _extra("authenticator"),
    }
    config_fields = {"stage_name": "extra.stage_name"}
    required: ClassVar[tuple[str, ...]] = ("host", "username", "password", "database")
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    source_drivername = "snowflake"

    def transform_host(self, account: str | None) -> str | None:
        """Airflow keeps the region apart (``account`` + ``region``); dlt wants ``account.region``."""
        region = self.read(_extra("region"))
        if account and region and "." not in account:
            return f"{account}.{region}"
        return account


class SnowflakeKeyPairMapping(SnowflakePasswordMapping):
    name = "snowflake_keypair"
    auth = "key pair (private key content or file; the password is the key's passphrase)"
    fields = {
        **{k: v for k, v in SnowflakePasswordMapping.fields.items() if k != "password"},
        "private_key": _extra("private_key_content"),
        "private_key_path": _extra("private_key_file"),
        "private_key_passphrase": ("password", "extra.private_key_passphrase"),
    }
    required = ("host", "username", "database")
    secret_fields = ("private_key", "private_key_passphrase")
    claim_when_any = (*_extra("private_key_content"), *_extra("private_key_file"))
    priority = 10
