"""Turning the ``source`` argument (object, resource, factory or import string) into a dlt source.

Used at parse time (cheap checks, never calling a factory unless the caller asks) and at run time.

An import string ``"package.module:factory"`` whose attribute is a top-level function -- plain or decorated
with ``@dlt.source`` -- is *located*, not imported: the module file is found with ``importlib.util.find_spec``
and read with ``ast`` (its code does not run; only parent packages' ``__init__`` run, as ``find_spec`` needs
them), so a DAG file's parse imports neither dlt nor the source module. The spec is resolved (imported) when a
task runs, or at parse time only when the plan needs the source graph. Any other attribute (a source
object, a ``@dlt.resource``, a name bound by an import or an assignment) is imported at once, as before.
"""
# No ``from __future__ import annotations`` in this module: a NamedTuple whose field annotations are strings
# costs ~0.13 ms more to define, and every DAG parse defines these (bench/bench_parse.py).

import ast
import functools
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from airflow_dlt_provider.exceptions import (
    DltProviderError,
    InvalidArgumentError,
    SourceResolutionError,
    UnknownResourceError,
)

ACCEPTED_SOURCE_FORMS = (
    "a dlt source (DltSource), a dlt resource (DltResource), a callable returning one "
    "(a @dlt.source function) or an import string 'package.module:attribute'"
)


class LocatedFactory(NamedTuple):
    """A factory found in its module file without importing it."""

    module_file: str
    function_name: str
    source_name: str
    """The name dlt gives the source: ``@dlt.source(name=...)`` when given, else the function's name."""


class SourceSpec(NamedTuple):
    """What the user passed as ``source``: a Python object (never called here) or a located import string."""

    target: Any
    """A DltSource, a DltResource or a factory callable; ``None`` while only located."""
    import_string: str | None = None
    located: LocatedFactory | None = None

    @property
    def is_resolved(self) -> bool:
        return self.target is not None

    @property
    def is_factory(self) -> bool:
        if not self.is_resolved:
            return True  # only factories are located
        return not _is_source(self.target) and not _is_resource(self.target)

    @property
    def display_name(self) -> str:
        if self.import_string:
            return self.import_string
        name = getattr(self.target, "name", None) or getattr(self.target, "__qualname__", None)
        return str(name or type(self.target).__name__)

    @property
    def source_name(self) -> str | None:
        """The source's name when known without calling the factory."""
        if self.located is not None:
            return self.located.source_name
        name = getattr(self.target, "name", None) or getattr(self.target, "__name__", None)
        return str(name) if name else None

    def resolved(self) -> "SourceSpec":
        """This spec with the import string imported (itself when it already is)."""
        if self.is_resolved or self.import_string is None:
            return self
        return resolve_source_spec(self.import_string, locate=False)._replace(located=self.located)


def _is_source(obj: Any) -> bool:
    from dlt.sources import DltSource

    return isinstance(obj, DltSource)


def _is_resource(obj: Any) -> bool:
    from dlt.sources import DltResource

    return isinstance(obj, DltResource)


def import_from_string(import_string: str) -> Any:
    """Import ``"package.module:attribute"`` (``attribute`` may be dotted)."""
    module_name, attribute = _split_import_string(import_string)
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


def resolve_source_spec(source: Any, *, locate: bool = True) -> SourceSpec:
    """Resolve ``source`` to a :class:`SourceSpec` without calling any factory.

    An import string of a top-level function is only located (``locate=True``): nothing is imported.
    """
    import_string = None
    target = source
    if isinstance(source, str):
        import_string = source
        located = locate_factory(source) if locate else None
        if located is not None:
            return SourceSpec(None, import_string, located)
        target = import_from_string(source)
    if _is_source(target) or _is_resource(target):
        return SourceSpec(target, import_string)
    if callable(target) and not isinstance(target, type):
        return SourceSpec(target, import_string)
    where = f" (from {import_string!r})" if import_string else ""
    raise SourceResolutionError(
        f"source{where} is a {type(target).__name__}, which is not accepted; expected {ACCEPTED_SOURCE_FORMS}"
    )


def _split_import_string(import_string: str) -> tuple[str, str]:
    module_name, sep, attribute = import_string.partition(":")
    if not sep or not module_name or not attribute:
        raise SourceResolutionError(
            f"source={import_string!r} is not an import string of the form 'package.module:attribute'"
        )
    return module_name, attribute


def locate_factory(import_string: str) -> LocatedFactory | None:
    """Find ``"module:function"`` in the module's file without running it.

    ``None`` when the attribute is something reading the file cannot judge (then the caller imports it).
    Raises :class:`SourceResolutionError` when the module cannot be found or does not define the name.
    """
    module_name, attribute = _split_import_string(import_string)
    if "." in attribute:
        return None
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as error:
        raise SourceResolutionError(
            f"source={import_string!r}: module {module_name!r} cannot be found ({error})"
        ) from error
    if spec is None:
        raise SourceResolutionError(
            f"source={import_string!r}: module {module_name!r} cannot be found on the Python path "
            "(is it in the DAGs folder, the plugins folder or an installed package?)"
        )
    origin = spec.origin
    if not origin or not origin.endswith(".py"):
        return None  # a compiled or namespace module: import it
    try:
        stat = Path(origin).stat()
    except OSError:
        return None
    return _read_factory(origin, stat.st_mtime_ns, stat.st_size, import_string, module_name, attribute)


@functools.lru_cache(maxsize=256)
def _read_factory(
    origin: str, mtime_ns: int, size: int, import_string: str, module_name: str, attribute: str
) -> LocatedFactory | None:
    """Read once per file version: every task of a group names the same import string."""
    try:
        tree = ast.parse(Path(origin).read_bytes(), filename=origin)
    except (OSError, SyntaxError, ValueError):
        return None  # importing reports it with Python's own message
    return _factory_in(tree, origin, import_string, module_name, attribute)


_SOURCE_DECORATORS = frozenset({"source", "dlt.source"})


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target)


def _factory_in(
    tree: ast.Module, origin: str, import_string: str, module_name: str, attribute: str
) -> LocatedFactory | None:
    found: ast.stmt | None = None
    for node in tree.body:
        if _binds(node, attribute):
            found = node  # the last binding wins, as when the module runs
    if found is None:
        if _may_define_more(tree):
            return None
        raise SourceResolutionError(
            f"source={import_string!r}: module {module_name!r} ({origin}) defines no {attribute!r} at its top level"
        )
    if not isinstance(found, ast.FunctionDef):
        return None
    source_name = found.name
    for decorator in found.decorator_list:
        if _decorator_name(decorator) not in _SOURCE_DECORATORS:
            return None
        named = _literal_keyword(decorator, "name")
        if named is False:
            return None
        if isinstance(named, str):
            source_name = named
    return LocatedFactory(module_file=origin, function_name=found.name, source_name=source_name)


def _binds(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names)
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(name in {n.id for n in ast.walk(t) if isinstance(n, ast.Name)} for t in targets)
    if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
        return any(_binds(child, name) for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return False


def _may_define_more(tree: ast.Module) -> bool:
    """Star imports, a module ``__getattr__`` or ``globals()`` writes: reading cannot tell what exists."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            return True
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return True
        if isinstance(node, ast.Name) and node.id in ("globals", "setattr", "exec"):
            return True
    return False


def _literal_keyword(decorator: ast.expr, keyword: str) -> str | None | bool:
    """The literal string of ``keyword`` in a decorator call; ``None`` if absent, ``False`` if not literal."""
    if not isinstance(decorator, ast.Call):
        return None
    for item in decorator.keywords:
        if item.arg == keyword:
            if isinstance(item.value, ast.Constant) and isinstance(item.value.value, str):
                return item.value.value
            return False
    if decorator.args:  # dlt.source's first positional parameter is the function itself
        return False
    return None


def instantiate_source(spec: SourceSpec, kwargs: Mapping[str, Any] | None = None) -> Any:
    """Return a fresh ``DltSource`` for ``spec`` (calls the factory with ``kwargs``)."""
    import dlt
    from dlt.sources import DltSource

    spec = spec.resolved()
    target = spec.target
    check_source_arguments(spec, kwargs, error=SourceResolutionError)
    if spec.is_factory:
        target = target(**dict(kwargs or {}))
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


def check_source_arguments(
    spec: SourceSpec,
    source_kwargs: Mapping[str, Any] | None,
    source_conn_ids: Mapping[str, str] | None = None,
    *,
    error: type[DltProviderError] = InvalidArgumentError,
) -> None:
    """Raise ``error`` when factory arguments are given for a source that is already a source object."""
    if spec.is_factory or not (source_kwargs or source_conn_ids):
        return
    raise error(
        f"source {spec.display_name!r} is already a source object, so source_kwargs/source_conn_ids cannot be "
        "applied; pass the @dlt.source function (or its import string) instead"
    )


def check_object_resource_names(spec: SourceSpec, resource_names: Iterable[str] | None) -> None:
    """Unknown ``resource_names`` of a source or resource object fail here: its resources are known without
    calling anything (a factory's are not, so its names are checked where it is called)."""
    if spec.is_factory or resource_names is None:
        return
    target = spec.target
    available = getattr(target, "resources", None)  # a DltResource has none: its own name is all there is
    check_resource_names(
        resource_names, available if available is not None else {target.name}, spec.display_name
    )


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
