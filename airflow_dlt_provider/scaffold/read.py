"""Read a dlt pipeline script with :mod:`ast` (never import or run it) into plain dataclasses.

What is read: the ``@dlt.source`` / ``@dlt.resource`` / ``@dlt.transformer`` functions defined at module level,
the ``dlt.pipeline(...)`` calls (``pipeline_name``, ``destination``, ``dataset_name``) and which function each
``pipeline.run(...)`` loads. Imports neither Airflow nor dlt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from airflow_dlt_provider.exceptions import ScaffoldError

DLT_DECORATORS = ("source", "resource", "transformer")
"""``dlt`` decorators whose functions can be loaded (transformers only together with their parent)."""


@dataclass(frozen=True)
class DltFunction:
    """A module-level function decorated with ``@dlt.source``, ``@dlt.resource`` or ``@dlt.transformer``."""

    function_name: str
    kind: str
    """``source``, ``resource`` or ``transformer``."""
    name: str
    """The dlt name (``name=`` of the decorator, else the function name)."""
    secret_args: tuple[str, ...] = ()
    """Arguments defaulting to ``dlt.secrets.value`` (dlt resolves them from its config providers)."""
    line: int = 0
    resource_groups: tuple[tuple[str, ...], ...] | None = None
    """For a source: the resources it returns, a transformer grouped with the resource that feeds it;
    ``None`` when reading cannot tell (resources built in a loop, returned from elsewhere, ...)."""


@dataclass(frozen=True)
class PipelineCall:
    """Literal arguments of one ``dlt.pipeline(...)`` call (``None`` when absent or not a literal)."""

    pipeline_name: str | None
    destination: str | None
    dataset_name: str | None
    scope: str | None
    """Name of the function that contains the call (``None``: module level)."""
    line: int
    variable: str | None = None
    """The name the pipeline is assigned to (``pipeline = dlt.pipeline(...)``)."""


@dataclass(frozen=True)
class RunCall:
    """``<pipeline>.run(<function>(...))``: which function it loads and through which pipeline."""

    scope: str | None
    target: str
    receiver: str | None
    """The variable ``run`` is called on (``pipeline``), ``None`` for ``dlt.pipeline(...).run(...)``."""
    pipeline_line: int | None = None
    """Line of the ``dlt.pipeline(...)`` call when ``run`` is chained onto it."""


@dataclass(frozen=True)
class PipelineScript:
    """What a dlt pipeline script declares, read without running it."""

    path: Path
    functions: tuple[DltFunction, ...]
    pipelines: tuple[PipelineCall, ...]
    runs: tuple[RunCall, ...] = ()

    @property
    def sources(self) -> list[DltFunction]:
        return [f for f in self.functions if f.kind == "source"]

    @property
    def resources(self) -> list[DltFunction]:
        return [f for f in self.functions if f.kind == "resource"]

    def function(self, name: str) -> DltFunction | None:
        return next((f for f in self.functions if f.function_name == name), None)


class _DltNames:
    """How the script refers to dlt: ``import dlt [as d]``, ``from dlt import source [as s]``."""

    def __init__(self, tree: ast.Module) -> None:
        self.modules: set[str] = set()
        self.functions: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "dlt":
                        self.modules.add(alias.asname or "dlt")
            elif isinstance(node, ast.ImportFrom) and node.module == "dlt":
                for alias in node.names:
                    self.functions[alias.asname or alias.name] = alias.name

    def resolve(self, node: ast.expr) -> str | None:
        """``"source"`` for ``dlt.source`` / ``source`` (imported from dlt); ``None`` otherwise."""
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.attr if node.value.id in self.modules else None
        if isinstance(node, ast.Name):
            return self.functions.get(node.id)
        return None

    def is_secret_value(self, node: ast.expr | None) -> bool:
        """``dlt.secrets.value`` (or ``secrets.value`` imported from dlt)."""
        if not (isinstance(node, ast.Attribute) and node.attr == "value"):
            return False
        owner = node.value
        if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name):
            return owner.attr == "secrets" and owner.value.id in self.modules
        return isinstance(owner, ast.Name) and self.functions.get(owner.id) == "secrets"


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _destination_name(node: ast.expr | None) -> str | None:
    """``"duckdb"``, ``dlt.destinations.duckdb(...)`` / ``duckdb(...)`` -> ``"duckdb"``."""
    literal = _literal_str(node)
    if literal is not None:
        return literal.split(".")[-1]
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _secret_args(function: ast.FunctionDef | ast.AsyncFunctionDef, names: _DltNames) -> tuple[str, ...]:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = [*zip(positional, defaults, strict=True), *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return tuple(arg.arg for arg, default in pairs if names.is_secret_value(default))


def _dlt_function(function: ast.FunctionDef | ast.AsyncFunctionDef, names: _DltNames) -> DltFunction | None:
    for decorator in function.decorator_list:
        kind = names.resolve(decorator)
        if kind not in DLT_DECORATORS:
            continue
        dlt_name = None
        if isinstance(decorator, ast.Call):
            dlt_name = _literal_str(_keyword(decorator, "name"))
        return DltFunction(
            function_name=function.name,
            kind=kind,
            name=dlt_name or function.name,
            secret_args=_secret_args(function, names),
            line=function.lineno,
        )
    return None


def _dlt_defs(body: list[ast.stmt], names: _DltNames) -> tuple[dict[str, DltFunction], dict[str, str]]:
    """Resources and transformers defined in ``body`` (by function name), and which one feeds each transformer."""
    defs: dict[str, DltFunction] = {}
    feeds: dict[str, str] = {}
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        found = _dlt_function(node, names)
        if found is None or found.kind not in ("resource", "transformer"):
            continue
        defs[node.name] = found
        for decorator in node.decorator_list:
            parent = _keyword(decorator, "data_from", 0) if isinstance(decorator, ast.Call) else None
            if isinstance(parent, ast.Name):
                feeds[node.name] = parent.id
    return defs, feeds


def _returned_resources(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    names: _DltNames,
    module_defs: dict[str, DltFunction],
    module_feeds: dict[str, str],
) -> tuple[tuple[str, ...], ...] | None:
    """The groups of resources a source function returns, when its body says so plainly.

    Plainly: resources and transformers defined with ``@dlt.resource`` / ``@dlt.transformer``
    (``data_from=<resource>``) in its body or at module level, and one ``return a, b()`` / ``return [a, b]``
    / ``return a | t`` of them.
    """
    inner_defs, inner_feeds = _dlt_defs(function.body, names)
    defs = {**module_defs, **inner_defs}
    feeds = {**module_feeds, **inner_feeds}
    returns = [node for node in ast.walk(function) if isinstance(node, ast.Return) and node.value is not None]
    if len(returns) != 1 or returns[0].value is None:
        return None
    value = returns[0].value
    items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
    groups: dict[str, list[str]] = {}
    for item in items:
        chain = _pipe_chain(item)
        if chain is None or any(n not in defs for n in chain):
            return None
        root = chain[0]
        while root in feeds and feeds[root] in defs:
            root = feeds[root]
        members = groups.setdefault(root, [])
        members += [n for n in ([root] if root not in chain else []) + chain if n not in members]
    return tuple(tuple(defs[n].name for n in members) for members in groups.values())


def _pipe_chain(node: ast.expr) -> list[str] | None:
    """``a`` / ``a()`` -> ``[a]``; ``a | t | u`` -> ``[a, t, u]``; anything else -> ``None``."""
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        node = node.func
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _pipe_chain(node.left), _pipe_chain(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _calls_with_scope(tree: ast.Module) -> Iterator[tuple[str | None, ast.Call]]:
    """Every call of the module with the name of the outermost function that contains it."""

    def visit(node: ast.AST, scope: str | None) -> Iterator[tuple[str | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            child_scope = scope
            if scope is None and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                child_scope = child.name
            if isinstance(child, ast.Call):
                yield scope, child
            yield from visit(child, child_scope)

    yield from visit(tree, None)


def _run_target(call: ast.Call) -> str | None:
    """``p.run(github_source(...))`` / ``p.run(github_source)`` / ``p.run(github_source().with_resources(...))``."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in {"run", "extract"} and call.args):
        return None
    node: ast.expr = call.args[0]
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            break
    return node.id if isinstance(node, ast.Name) else None


def read_pipeline_script(path: str | Path) -> PipelineScript:
    """Parse ``path`` (never import it) and return what it declares."""
    script = Path(path)
    if not script.is_file():
        raise ScaffoldError(f"pipeline script {str(script)!r} does not exist (expected a .py file)")
    if script.suffix != ".py":
        raise ScaffoldError(f"pipeline script {str(script)!r} is not a Python file (expected a .py file)")
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except SyntaxError as err:
        raise ScaffoldError(
            f"pipeline script {str(script)!r} has a syntax error on line {err.lineno}: {err.msg}"
        ) from err
    names = _DltNames(tree)
    module_defs, module_feeds = _dlt_defs(tree.body, names)
    functions = tuple(
        replace(found, resource_groups=_returned_resources(node, names, module_defs, module_feeds))
        if found.kind == "source"
        else found
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (found := _dlt_function(node, names)) is not None
    )
    assigned = {
        id(node.value): node.targets[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    pipelines: list[PipelineCall] = []
    runs: list[RunCall] = []
    for scope, call in _calls_with_scope(tree):
        if names.resolve(call.func) == "pipeline" and not isinstance(call.func, ast.Call):
            pipelines.append(
                PipelineCall(
                    pipeline_name=_literal_str(_keyword(call, "pipeline_name", 0)),
                    destination=_destination_name(_keyword(call, "destination", 3)),
                    dataset_name=_literal_str(_keyword(call, "dataset_name", 5)),
                    scope=scope,
                    line=call.lineno,
                    variable=assigned.get(id(call)),
                )
            )
        elif (target := _run_target(call)) is not None:
            assert isinstance(call.func, ast.Attribute)  # checked by _run_target
            owner = call.func.value
            receiver = owner.id if isinstance(owner, ast.Name) else None
            chained = (
                owner.lineno
                if isinstance(owner, ast.Call) and names.resolve(owner.func) == "pipeline"
                else None
            )
            runs.append(RunCall(scope=scope, target=target, receiver=receiver, pipeline_line=chained))
    return PipelineScript(path=script, functions=functions, pipelines=tuple(pipelines), runs=tuple(runs))
