"""The Google Cloud part shared by the ``google_cloud_platform`` mappings (BigQuery, filesystem on GCS).

Three auth methods, picked by the fields present: a key file path, the key file JSON in ``extra``, or
application default credentials (neither; the worker's environment provides them). A destination declares
what it adds (its name, extra, config fields) once and gets one mapping per method from :func:`auth_variants`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from airflow_dlt_provider import _compat
from airflow_dlt_provider.connections.base import ConnectionMapping, MappedValues, mask_secret_value
from airflow_dlt_provider.exceptions import ConnectionMappingError


def _extra(key: str) -> tuple[str, str]:
    """The extra key and its legacy ``extra__google_cloud_platform__`` name."""
    return (f"extra.{key}", f"extra.extra__google_cloud_platform__{key}")


PROJECT = _extra("project")
KEY_PATH = _extra("key_path")
KEYFILE_DICT = _extra("keyfile_dict")


class GcpMapping(ConnectionMapping):
    conn_types = ("google_cloud_platform", "gcpbigquery")
    credentials_class = "dlt.sources.credentials:GcpServiceAccountCredentials"
    keyfile_field = ""
    """The pseudo field holding the key file (``keyfile_json`` or ``keyfile_path``); empty for ADC."""

    def _mask(self, values: Mapping[str, Any]) -> None:
        """Mask the key material of a key file, not every value in it (``service_account`` is no secret)."""
        keyfile = values.get(self.keyfile_field) if self.keyfile_field in self.secret_fields else None
        if isinstance(keyfile, str):
            _compat.mask_secret(keyfile)  # the whole text; its lines are mostly no secrets
            with contextlib.suppress(ValueError):
                keyfile = json.loads(keyfile)
        if isinstance(keyfile, dict):
            mask_secret_value(keyfile.get("private_key"))
            mask_secret_value(keyfile.get("private_key_id"))
            mask_secret_value(json.dumps(keyfile))

    def credentials(self, values: MappedValues | None = None) -> Any:
        values = values or self.values()
        fields = dict(values.credentials)
        credentials = self.credentials_type()()
        keyfile = fields.pop(self.keyfile_field, None) if self.keyfile_field else None
        if keyfile is not None:
            info = self.keyfile_info(keyfile)
            mask_secret_value(info.get("private_key"))
            mask_secret_value(info.get("private_key_id"))
            mask_secret_value(json.dumps(info))
            credentials.parse_native_representation(json.dumps(info))
        for name, value in fields.items():
            setattr(credentials, name, value)
        return credentials

    def keyfile_info(self, keyfile: Any) -> dict[str, Any]:
        """The service account key (a dict) from the key file field."""
        if isinstance(keyfile, dict):
            return keyfile
        try:
            info = json.loads(keyfile)
        except ValueError:
            info = None
        if not isinstance(info, dict):
            raise ConnectionMappingError(
                f"Airflow connection {self.conn_id!r}: {self.keyfile_field} is not a service account key "
                "in JSON (an object with client_email, private_key, project_id)"
            )
        return info


class GcpKeyfileJson(GcpMapping):
    auth = "service account key JSON in extra.keyfile_dict"
    keyfile_field = "keyfile_json"
    fields = {"keyfile_json": KEYFILE_DICT, "project_id": PROJECT}
    secret_fields = ("keyfile_json",)
    claim_when_any = KEYFILE_DICT
    priority = 20


class GcpKeyfilePath(GcpMapping):
    auth = "service account key file at extra.key_path (read on the worker)"
    keyfile_field = "keyfile_path"
    fields = {"keyfile_path": KEY_PATH, "project_id": PROJECT}
    claim_when_any = KEY_PATH
    priority = 10

    def keyfile_info(self, keyfile: Any) -> dict[str, Any]:
        path = Path(str(keyfile)).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConnectionMappingError(
                f"Airflow connection {self.conn_id!r}: cannot read the key file {str(path)!r} named by "
                f"extra.key_path ({error.strerror or error.__class__.__name__})"
            ) from None
        _compat.mask_secret(text)  # the whole text; the key material is masked by credentials()
        return super().keyfile_info(text)


class GcpDefault(GcpMapping):
    auth = "application default credentials of the worker (no key in the connection)"
    fields = {"project_id": PROJECT}


AUTH_METHODS: tuple[tuple[type[GcpMapping], str, str], ...] = (
    (GcpKeyfileJson, "KeyfileJson", "keyfile_json"),
    (GcpKeyfilePath, "KeyfilePath", "keyfile_path"),
    (GcpDefault, "Default", "adc"),
)
"""Each auth method with the suffixes of its mappings' class names and names, most specific first."""


def auth_variants(
    destination: type[GcpMapping], *, class_prefix: str, name_prefix: str
) -> tuple[type[GcpMapping], type[GcpMapping], type[GcpMapping]]:
    """One mapping per auth method feeding ``destination``, in :data:`AUTH_METHODS` order.

    ``auth_variants(_BigQuery, class_prefix="BigQuery", name_prefix="bigquery")`` makes
    ``BigQueryKeyfileJsonMapping`` (name ``bigquery_keyfile_json``), ``BigQueryKeyfilePathMapping`` and
    ``BigQueryDefaultMapping`` (``bigquery_adc``), each a subclass of the auth method and of ``destination``.
    """
    keyfile_json, keyfile_path, default = (
        _variant(auth, destination, f"{class_prefix}{class_suffix}Mapping", f"{name_prefix}_{name_suffix}")
        for auth, class_suffix, name_suffix in AUTH_METHODS
    )
    return keyfile_json, keyfile_path, default


def _variant(
    auth: type[GcpMapping], destination: type[GcpMapping], class_name: str, name: str
) -> type[GcpMapping]:
    namespace = {"name": name, "__module__": destination.__module__}
    return cast("type[GcpMapping]", type(class_name, (auth, destination), namespace))
