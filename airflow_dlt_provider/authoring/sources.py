"""Turning the ``source`` argument (object, resource, factory or import string) into a dlt source.

Used at parse time (cheap checks, never calling a factory unless the caller asks) and at run time.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_dlt_provider.exceptions import SourceResolutionError, UnknownResourceError

ACCEPTED_SOURCE_FORMS = (
    "a dlt source (DltSource), a dlt resource (DltResource), a callable returning one "
    "(a @dlt.source function) or an import string 'package.module:attribute'"
)


@dataclass(frozen=True)
class SourceSpec:
    """What the user passed as ``source``, resolved to a Python object but not called."""

    target: Any
    """A DltSource, a DltResource or a factory callable."""
    import_string: str | None = None

    @property
    def is_factory(self) -> bool:
        return not _is_source(self.target) and not _is_resource(self.target)

    @property
    def display_name(self) -> str:
        if self.import_string:
            return self.import_string
        name = getattr(self.target, "name", None) or getattr(self.target, "__qualname__", None)
        return str(name or type(self.target).__name__)


def _is_source(obj: Any) -> bool:
    from dlt.sources import DltSource

    return isinstance(obj, DltSource)


def _is_resource(obj: Any) -> bool:
    from dlt.sources import DltResource

    return isinstance(obj, DltResource)


def import_from_string(import_string: str) -> Any:
    """Import ``"package.module:attribute"`` (``attribute`` may be dotted)."""
    module_name, sep, attribute = import_string.partition(":")
    if not sep or not module_name or not attribute:
        raise SourceResolutionError(
            f"source={import_string!r} is not an import string of the form 'package.module:attribute'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SourceResolutionError(
            f"source={import_string!r}: module {module_name!r} cannot be imported ({error})"
        ) from error
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise SourceResolutionError(
                f"source={import_string!r}: module {module_name!r} has no attribute {attribute!r}"
            )
        value = getattr(value, part)
    return value


def resolve_source_spec(source: Any) -> SourceSpec:
    """Resolve ``source`` to a :class:`SourceSpec` without calling any factory."""
    import_string = None
    target = source
    if isinstance(source, str):
        import_string = source
        target = import_from_string(source)
    if _is_source(target) or _is_resource(target):
        return SourceSpec(target, import_string)
    if callable(target) and not isinstance(target, type):
        return SourceSpec(target, import_string)
    where = f" (from {import_string!r})" if import_string else ""
    raise SourceResolutionError(
        f"source{where} is a {type(target).__name__}, which is not accepted; expected {ACCEPTED_SOURCE_FORMS}"
    )


def instantiate_source(spec: SourceSpec, kwargs: Mapping[str, Any] | None = None) -> Any:
    """Return a fresh ``DltSource`` for ``spec`` (calls the factory with ``kwargs``)."""
    import dlt
    from dlt.sources import DltSource

    target = spec.target
    if spec.is_factory:
        target = target(**dict(kwargs or {}))
    elif kwargs:
        raise SourceResolutionError(
            f"source_kwargs were given but source {spec.display_name!r} is already a source object; "
            "pass the factory (the @dlt.source function) to use source_kwargs"
        )
    if isinstance(target, DltSource):
        return target.clone()
    if _is_resource(target):
        return DltSource(dlt.Schema(target.name), target.section or target.name, [target])
    raise SourceResolutionError(
        f"source {spec.display_name!r} returned a {type(target).__name__}; expected a DltSource or DltResource"
    )


def select_resources(source: Any, resources: Iterable[str] | None) -> Any:
    """Restrict ``source`` to ``resources`` (all selected resources when ``None``)."""
    if resources is None:
        return source
    names = list(resources)
    check_resource_names(names, list(source.resources.keys()), source.name)
    return source.with_resources(*names)


def check_resource_names(requested: Iterable[str], available: Iterable[str], source_name: str) -> None:
    # a Mapping/set is looked up as it is (O(1) per name); the list is only built for the message
    if not isinstance(available, (Mapping, set, frozenset)):
        available = list(available)
    lookup = set(available) if isinstance(available, list) else available
    unknown = [name for name in requested if name not in lookup]
    if unknown:
        available_names = list(available)
        raise UnknownResourceError(
            f"source {source_name!r} has no resource named {', '.join(repr(n) for n in unknown)}; "
            f"available resources: {', '.join(available_names) or '(none)'}"
        )
