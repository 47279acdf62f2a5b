"""The base class of the declarative connection mappings (one small subclass per system and auth method).

A mapping is mostly class attributes: the Airflow connection type(s) it claims, the dlt destination it feeds,
a table from dlt field to Airflow field (``host``, ``login``, ``password``, ``port``, ``schema``,
``extra.<key>``; a tuple lists fallbacks, e.g. legacy ``extra__<type>__<key>`` names), the required and the
secret dlt fields, the whole-number ones. Behaviour lives here, once: claiming a connection, reading a field,
turning :attr:`~ConnectionMapping.int_fields` into numbers, applying a ``transform_<field>`` hook, masking
secrets, building the dlt credentials and the destination factory. :data:`SERVER_FIELDS` and
:data:`LOGIN_FIELDS` are the field maps most SQL mappings start from.

Nothing here imports dlt or a destination driver at import time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import importlib.util
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus, urlencode

from airflow_dlt_provider import _compat, _dlt_internals
from airflow_dlt_provider.exceptions import ConnectionMappingError, MissingExtraError

FieldSource = str | tuple[str, ...]
"""An Airflow field (``"host"``, ``"extra.account"``) or a tuple of them, tried in order."""

AIRFLOW_FIELDS = ("host", "login", "password", "port", "schema")
SERVER_FIELDS: Mapping[str, FieldSource] = MappingProxyType({"host": "host", "port": "port"})
"""dlt's ``host`` and ``port`` from the Airflow fields of the same names."""
LOGIN_FIELDS: Mapping[str, FieldSource] = MappingProxyType({"username": "login", "password": "password"})
"""dlt's ``username`` and ``password`` from Airflow's ``login`` and ``password``."""
MIN_MASK_LENGTH = 5
"""Pieces shorter than this are not registered with the masker (they would mask ordinary words)."""


def read_airflow_field(conn: Any, name: str) -> Any:
    """The value of one Airflow field of ``conn`` (``host`` ... or ``extra.<key>``); ``None`` when unset."""
    if name.startswith("extra."):
        value = (conn.extra_dejson or {}).get(name[len("extra.") :])
    elif name in AIRFLOW_FIELDS:
        value = getattr(conn, name, None)
    else:  # a programming error in a mapping, never user input
        raise ValueError(
            f"unknown Airflow connection field {name!r}; use one of {AIRFLOW_FIELDS} or extra.<key>"
        )
    if isinstance(value, str):
        value = value.strip()
    return None if value in (None, "") else value


def sources_of(source: FieldSource) -> tuple[str, ...]:
    return (source,) if isinstance(source, str) else tuple(source)


def secret_variants(secret: str) -> set[str]:
    """Every form in which ``secret`` may show up: raw, URL-encoded, JSON-escaped, key-material lines."""
    variants = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        _sqlalchemy_rendered_password(secret),
    }
    decoded = _decode_base64_text(secret)
    if decoded:
        variants.add(decoded)
    for text in (secret, decoded):
        lines = [line.strip() for line in text.splitlines()] if "\n" in text else []
        variants.update(line for line in lines if not _is_pem_boundary(line))
    return {v for v in variants if v and len(v) >= MIN_MASK_LENGTH}


def _is_pem_boundary(line: str) -> bool:
    return line.startswith("-----") and line.endswith("-----")


def _sqlalchemy_rendered_password(secret: str) -> str:
    """How the installed SQLAlchemy writes ``secret`` into a URL (1.4 and 2.x escape differently)."""
    try:
        from sqlalchemy.engine import URL
    except ImportError:  # pragma: no cover - SQLAlchemy comes with Airflow
        return ""
    rendered = URL.create("x", username="u", password=secret, host="h").render_as_string(hide_password=False)
    prefix, suffix = "x://u:", "@h"
    if rendered.startswith(prefix) and rendered.endswith(suffix):
        return rendered[len(prefix) : -len(suffix)]
    return ""


def _decode_base64_text(value: str) -> str:
    if len(value) < 32 or value.lstrip().startswith("-----"):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return ""


def mask_secret_value(value: Any) -> None:
    """Register a secret and all its variants (strings inside dicts too) with Airflow's masker."""
    if value is None:
        return
    if isinstance(value, Mapping):
        for item in value.values():
            mask_secret_value(item)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            mask_secret_value(item)
        return
    text = value if isinstance(value, str) else str(value)
    for variant in sorted(secret_variants(text), key=len, reverse=True):
        _compat.mask_secret(variant)


def redacted(value: Any) -> str:
    """``value`` after the masker (for messages that mention a value that might be secret)."""
    return str(_compat.redact(str(value)))


@dataclass
class MappedValues:
    """What a mapping read from one connection: dlt credential fields and destination config fields."""

    credentials: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class ConnectionMapping:
    """One Airflow connection type (and auth method) -> one dlt destination's credentials."""

    name: ClassVar[str] = ""
    """Identifier of the mapping (``snowflake_keypair``)."""
    auth: ClassVar[str] = ""
    """Human description of the auth method, for the docs."""
    conn_types: ClassVar[tuple[str, ...]] = ()
    destination: ClassVar[str] = ""
    """The dlt destination name (``dlt.destinations.<destination>``)."""
    pip_extra: ClassVar[str] = ""
    """The extra of airflow-dlt-provider that installs the destination's driver."""
    driver_modules: ClassVar[tuple[str, ...]] = ()
    """Modules the destination needs; a missing one raises an error naming :attr:`pip_extra`."""
    credentials_class: ClassVar[str] = ""
    """``module:Class`` of the dlt credentials (imported at execute time only); empty: the type of the
    ``credentials`` field of the destination factory's ``spec`` (``dlt.destinations.<destination>.spec``)."""
    connects_with_url: ClassVar[bool] = False
    """dlt hands the driver the credentials' URL string (psycopg2): render it so any password survives."""
    fields: ClassVar[Mapping[str, FieldSource]] = {}
    """dlt credential field -> Airflow field(s)."""
    config_fields: ClassVar[Mapping[str, FieldSource]] = {}
    """dlt destination config field (not a credential, e.g. ``bucket_url``) -> Airflow field(s)."""
    required: ClassVar[tuple[str, ...]] = ()
    """dlt fields (credential or config) without which the mapping cannot work."""
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """dlt fields whose values are secrets (masked before anything can log them)."""
    int_fields: ClassVar[tuple[str, ...]] = ()
    """dlt fields that are whole numbers (``port``): ``extra`` holds text, and dlt sets no type on assignment."""
    query_extras: ClassVar[tuple[str, ...]] = ()
    """``extra`` keys copied into the query of a connection-string credential (``sslmode``)."""
    claim_when_any: ClassVar[tuple[str, ...]] = ()
    """The mapping only claims connections having one of these Airflow fields (auth variants)."""
    infer_when_any: ClassVar[tuple[str, ...]] = ()
    """With no ``destination`` given, this mapping's destination wins when one of these fields is set."""
    source_drivername: ClassVar[str | None] = None
    """SQLAlchemy driver name when the connection feeds a SQL source (``sql_database``)."""
    priority: ClassVar[int] = 0
    """Higher first when several mappings claim one connection type."""

    # ------------------------------------------------------------ claiming

    @classmethod
    def claims(cls, conn: Any) -> bool:
        """Does this mapping handle ``conn`` (its type, and the fields its auth method needs)?"""
        if (conn.conn_type or "") not in cls.conn_types:
            return False
        return not cls.claim_when_any or any(
            read_airflow_field(conn, f) is not None for f in cls.claim_when_any
        )

    @classmethod
    def inferred_for(cls, conn: Any) -> bool:
        """Do the connection's fields point at this mapping's destination (see :attr:`infer_when_any`)?"""
        return any(read_airflow_field(conn, f) is not None for f in cls.infer_when_any)

    # ------------------------------------------------------------ reading

    @classmethod
    def all_fields(cls) -> dict[str, FieldSource]:
        return {**dict(cls.fields), **dict(cls.config_fields)}

    def __init__(self, conn: Any, conn_id: str) -> None:
        self.conn = conn
        self.conn_id = conn_id

    def read(self, source: FieldSource) -> Any:
        """The first set value among ``source``'s Airflow fields."""
        for name in sources_of(source):
            value = read_airflow_field(self.conn, name)
            if value is not None:
                return value
        return None

    def values(self) -> MappedValues:
        """Read, transform, check and mask every mapped field of the connection."""
        raw = {dlt_field: self.read(source) for dlt_field, source in self.all_fields().items()}
        self._mask(raw)  # before any transform can fail and put a value into a traceback
        result = MappedValues()
        for dlt_field, raw_value in raw.items():
            value = self.transform(dlt_field, raw_value)
            if value is None:
                continue
            target = result.credentials if dlt_field in self.fields else result.config
            target[dlt_field] = value
        self._mask({**result.credentials, **result.config})
        self.check_required(result)
        return result

    def transform(self, dlt_field: str, value: Any) -> Any:
        """``value`` as the dlt field takes it: a number for :attr:`int_fields`, then its ``transform_`` hook."""
        if value is not None and dlt_field in self.int_fields:
            value = int(str(value))
        hook = getattr(self, f"transform_{dlt_field}", None)
        return value if hook is None else hook(value)

    def _mask(self, values: Mapping[str, Any]) -> None:
        for name in self.secret_fields:
            mask_secret_value(values.get(name))

    def check_required(self, values: MappedValues) -> None:
        present = {**values.credentials, **values.config}
        for name in self.required:
            if present.get(name) is None:
                where = " or ".join(sources_of(self.all_fields().get(name, name)))
                raise ConnectionMappingError(
                    f"Airflow connection {self.conn_id!r} (type {self.conn.conn_type!r}) has no value for "
                    f"{name!r}, required by the {self.destination} mapping {self.name!r}: set {where}"
                )

    def query(self) -> dict[str, Any]:
        """``extra`` keys that go into the query string of a connection-string credential."""
        extra = self.conn.extra_dejson or {}
        return {key: extra[key] for key in self.query_extras if extra.get(key) not in (None, "")}

    # ------------------------------------------------------------ building

    @classmethod
    def check_driver(cls) -> None:
        """Raise :class:`MissingExtraError` naming the pip extra when the destination's driver is missing."""
        for module in cls.driver_modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise MissingExtraError(
                    f"destination {cls.destination!r} needs the Python module {module!r}, which is not "
                    f"installed: pip install airflow-dlt-provider[{cls.pip_extra}]"
                )

    @classmethod
    def credentials_type(cls) -> Any:
        module_name, _, class_name = cls.credentials_class.partition(":")
        try:
            if cls.credentials_class:
                credentials_type = getattr(importlib.import_module(module_name), class_name)
            else:
                credentials_type = _spec_credentials_type(cls.destination)
        except ImportError as error:
            where = module_name or f"dlt.destinations.{cls.destination}.spec"
            raise MissingExtraError(
                f"cannot import {where} for destination {cls.destination!r} ({error.__class__.__name__}): "
                f"pip install airflow-dlt-provider[{cls.pip_extra}]"
            ) from None
        return url_safe_credentials_type(credentials_type) if cls.connects_with_url else credentials_type

    def credentials(self, values: MappedValues | None = None) -> Any:
        """The dlt credentials object of the destination, filled from the connection."""
        values = values or self.values()
        credentials = self.credentials_type()()
        for name, value in values.credentials.items():
            setattr(credentials, name, value)
        query = self.query()
        if query:
            credentials.query = {**(getattr(credentials, "query", None) or {}), **query}
        if getattr(type(credentials), "to_native_representation", None) is _render_url_safely:
            # dlt copies unresolved explicit credentials into its own spec class (losing the URL rendering)
            # and uses resolved ones as they are
            credentials.resolve()
        self.mask_native(credentials)
        return credentials

    def mask_native(self, credentials: Any) -> None:
        """Mask the native form (a DSN, a JSON key) of credentials holding a secret."""
        if not self.secret_fields or not hasattr(credentials, "to_native_representation"):
            return
        try:
            native = credentials.to_native_representation()
        except Exception:  # incomplete credentials have no native form yet
            return
        if isinstance(native, str):
            _compat.mask_secret(native)

    def destination_kwargs(self, values: MappedValues) -> dict[str, Any]:
        """Keyword arguments of the dlt destination factory."""
        return {"credentials": self.credentials(values), **values.config}

    def source_credentials(self) -> Any:
        """Credentials handed to a source factory: a connection string for SQL systems, else the dlt ones."""
        values = self.values()
        if self.source_drivername is None:
            return self.credentials(values)
        from dlt.sources.credentials import ConnectionStringCredentials

        credentials = url_safe_credentials_type(ConnectionStringCredentials)()
        credentials.drivername = self.source_drivername
        for name in ("database", "username", "password", "host", "port"):
            if values.credentials.get(name) is not None:
                setattr(credentials, name, values.credentials[name])
        query = self.query()
        if query:
            credentials.query = query
        self.mask_native(credentials)
        return credentials


def _spec_credentials_type(destination: str) -> Any:
    """The credentials class of a dlt destination: the ``credentials`` field of its factory's ``spec``."""
    import typing

    import dlt

    spec = getattr(dlt.destinations, destination).spec
    return typing.get_type_hints(spec)["credentials"]


def _render_url_safely(credentials: Any) -> str:
    return render_sqlalchemy_url(credentials.to_url())


def render_sqlalchemy_url(url: Any) -> str:
    """A SQLAlchemy URL as a string that any libpq/SQLAlchemy parser reads back with the same password.

    SQLAlchemy 2 escapes every reserved character of the user name and password. SQLAlchemy 1.4 (the one
    Airflow 2 pins) escapes only ``@:/``, so a password with ``%#&?=`` came out unparseable ("invalid
    percent-encoded token" from psycopg2); there the URL is rendered here instead.
    """
    import sqlalchemy

    if int(sqlalchemy.__version__.split(".")[0]) >= 2:
        return str(url.render_as_string(hide_password=False))
    rendered = f"{url.drivername}://"
    if url.username is not None:
        rendered += quote(str(url.username), safe="")
        if url.password is not None:
            rendered += ":" + quote(str(url.password), safe="")
        rendered += "@"
    if url.host is not None:
        rendered += f"[{url.host}]" if ":" in url.host else url.host
    if url.port is not None:
        rendered += f":{url.port}"
    if url.database is not None:
        rendered += f"/{url.database}"
    if url.query:
        rendered += "?" + urlencode(sorted(url.query.items()), doseq=True)
    return rendered


@functools.cache
def url_safe_credentials_type(credentials_type: type) -> type:
    """``credentials_type``, or a subclass of it whose connection string keeps any password intact.

    dlt hands ``to_native_representation()`` to psycopg2 and SQLAlchemy; see
    :func:`render_sqlalchemy_url` for why the rendering is ours. Credentials classes with a native form
    of their own (DuckDB's file path, MotherDuck's token) are left as they are.
    """
    from dlt.common.configuration import configspec
    from dlt.sources.credentials import ConnectionStringCredentials

    if not issubclass(credentials_type, ConnectionStringCredentials) or (
        credentials_type.to_native_representation is not ConnectionStringCredentials.to_native_representation
    ):
        return credentials_type

    namespace = {"to_native_representation": _render_url_safely, "__module__": __name__}
    return configspec(init=False)(type(credentials_type.__name__, (credentials_type,), namespace))  # type: ignore[no-any-return]


def resolved_for_source(credentials: Any) -> Any:
    """``credentials`` resolved as dlt would resolve them, so that any source argument takes them.

    dlt takes an unresolved credentials object only for an argument typed with a credentials class; an
    untyped ``credentials=dlt.secrets.value`` argument reports it missing (``ConfigFieldMissingException``).
    Complete credentials are marked resolved (``on_resolved`` checks run); incomplete ones first get dlt's
    ``on_partial`` (default credentials of the worker: GCP, AWS, Azure) and stay unresolved if that does not
    complete them, so that dlt can still fill them from its configuration for a typed argument. Values that
    are no dlt configuration (a token, a native connection string) are returned as they are.
    """
    from dlt.common.configuration.specs import BaseConfiguration

    if not isinstance(credentials, BaseConfiguration) or credentials.is_resolved():
        return credentials
    if credentials.is_partial():
        _dlt_internals.complete_from_defaults(credentials)
    if not credentials.is_resolved() and not credentials.is_partial():
        credentials.resolve()
    return credentials


def format_choices(names: Iterable[str]) -> str:
    return ", ".join(sorted(set(names))) or "none"
