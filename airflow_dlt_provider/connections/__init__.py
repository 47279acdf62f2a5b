"""Airflow connection -> dlt credentials, for destinations and sources. Used at execute time only.

Each system has a small declarative mapping (see :mod:`.base`); :mod:`.registry` picks one by the
connection type and the fields the connection has. Every secret-derived value is registered with Airflow's
secret masker before anything can log it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_dlt_provider import _compat
from airflow_dlt_provider.connections.base import (
    ConnectionMapping,
    mask_secret_value,
    redacted,
    resolved_for_source,
)
from airflow_dlt_provider.connections.lookup import env_var_name, unreadable_in
from airflow_dlt_provider.exceptions import ConnectionMappingError, ConnectionNotFoundError, MissingExtraError

__all__ = [
    "ConnectionMapping",
    "MappedDestination",
    "destination_from_connection",
    "get_connection",
    "map_connection",
    "source_credentials_from_connection",
    "source_credentials_from_connections",
]


def get_connection(conn_id: str) -> Any:
    """Look up ``conn_id`` and mask its password; a missing id raises :class:`ConnectionNotFoundError`,
    one that a secrets backend holds but cannot parse a :class:`ConnectionMappingError` saying where."""
    try:
        conn = _compat.get_connection(conn_id)
    except Exception as error:
        if type(error).__name__ == "AirflowNotFoundException":
            raise _not_found(conn_id) from None
        raise ConnectionMappingError(
            f"cannot read Airflow connection {conn_id!r}: {redacted(error)}"
        ) from None
    mask_secret_value(conn.password)
    return conn


def _not_found(conn_id: str) -> ConnectionMappingError:
    """Airflow says "not defined" also when a backend holds the connection but cannot parse it."""
    problems = unreadable_in(conn_id)
    if problems:
        return ConnectionMappingError(
            f"Airflow connection {conn_id!r} is malformed: {'; '.join(problems)}. Accepted: a connection URI "
            "(postgres://user:password@host:5432/database) or a JSON object with conn_type, host, login, "
            "password, port (a number), schema and extra"
        )
    return ConnectionNotFoundError(
        f"Airflow connection {conn_id!r} is not defined (looked in the environment variable "
        f"{env_var_name(conn_id)}, the secrets backends and the metadata DB)"
    )


@dataclass
class MappedDestination:
    """A connection read through its mapping: which mapping, which destination, the factory arguments."""

    conn_id: str
    mapping: type[ConnectionMapping]
    destination: str
    kwargs: dict[str, Any] = field(repr=False)

    @property
    def credentials(self) -> Any:
        return self.kwargs.get("credentials")


def map_connection(conn_id: str, destination: Any = None) -> MappedDestination:
    """Read ``conn_id`` through the mapping fitting ``destination`` (``None``: inferred from the type)."""
    from airflow_dlt_provider.connections.dlt import DltConnectionMapping
    from airflow_dlt_provider.connections.registry import select_destination_mapping

    conn = get_connection(conn_id)
    mapping_class = select_destination_mapping(conn, conn_id, destination)
    mapping = mapping_class(conn, conn_id)
    values = mapping.values()
    if mapping_class is DltConnectionMapping:
        name = _dlt_connection_destination(conn_id, values.config.get("destination"), destination)
    else:
        name = mapping_class.destination
    return MappedDestination(conn_id, mapping_class, name, mapping.destination_kwargs(values))


def destination_from_connection(conn_id: str, destination: Any = None) -> Any:
    """A dlt destination factory holding the credentials of Airflow connection ``conn_id``.

    :param destination: ``None`` to infer the destination from the connection type, a dlt destination
        name, or a dlt destination factory (its explicit arguments win; the connection supplies the
        credentials and the settings the factory does not set).
    """
    mapped = map_connection(conn_id, destination)
    if mapped.mapping.destination == mapped.destination:
        mapped.mapping.check_driver()
    else:  # the generic `dlt` connection: any destination
        _check_driver_of(mapped.destination)
    factory_class, explicit = _factory_class(mapped.destination, destination)
    return factory_class(**{**mapped.kwargs, **explicit})


def source_credentials_from_connection(conn_id: str, argument: str | None = None) -> Any:
    """Credentials for a source factory argument: ``ConnectionStringCredentials`` for SQL databases
    (usable by ``dlt.sources.sql_database``), the token for ``http``, the dlt credentials otherwise.

    :param argument: the factory argument the credentials are for (the key of ``source_conn_ids``); an
        error then starts with ``source_conn_ids['<argument>']:``.
    """
    from airflow_dlt_provider.connections.registry import select_source_mapping

    try:
        conn = get_connection(conn_id)
        mapping = select_source_mapping(conn, conn_id)(conn, conn_id)
        return resolved_for_source(mapping.source_credentials())
    except (ConnectionMappingError, MissingExtraError) as error:
        if argument is None:
            raise
        raise type(error)(f"source_conn_ids[{argument!r}]: {error}") from None


def source_credentials_from_connections(source_conn_ids: Mapping[str, str]) -> dict[str, Any]:
    """``{factory argument: credentials}`` for ``source_conn_ids`` (``{factory argument: conn_id}``)."""
    return {
        argument: source_credentials_from_connection(conn_id, argument)
        for argument, conn_id in source_conn_ids.items()
    }


def _dlt_connection_destination(conn_id: str, in_extra: Any, given: Any) -> str:
    from airflow_dlt_provider.connections.registry import destination_name

    wanted = destination_name(given)
    named = destination_name(in_extra) if in_extra else None
    if wanted and named and wanted != named:
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} is for destination {named!r} (extra.destination), "
            f"but destination={wanted!r} was given"
        )
    name = wanted or named
    if not name:
        raise ConnectionMappingError(
            f"Airflow connection {conn_id!r} (type 'dlt') has no value for 'destination': set "
            "extra.destination (e.g. postgres, snowflake, filesystem) or pass destination=..."
        )
    return name


def _check_driver_of(destination: str) -> None:
    from airflow_dlt_provider.connections.registry import MAPPINGS

    mappings = [m for m in MAPPINGS if m.destination == destination]
    # filesystem needs a different driver per bucket scheme: dlt names the missing one itself
    if mappings and len({m.driver_modules for m in mappings}) == 1:
        mappings[0].check_driver()


def _factory_class(name: str, destination: Any) -> tuple[Any, dict[str, Any]]:
    """The destination factory class and the arguments a given factory object was created with."""
    if destination is not None and not isinstance(destination, str):
        explicit = {**destination.config_params, **destination.caps_params}
        explicit.pop("credentials", None)
        return type(destination), explicit
    import dlt

    factory_class = getattr(dlt.destinations, name, None)
    if factory_class is None:
        raise ConnectionMappingError(
            f"destination {name!r} is not a dlt destination; known: {', '.join(sorted(dlt.destinations.__all__))}"
        )
    return factory_class, {}
