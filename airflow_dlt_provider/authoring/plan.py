"""Planning as data: a dlt source graph -> components, and the plan (task ids, pipeline names, pools, edges).

Pure and Airflow-free, so it can be unit-tested without Airflow and is where the linear-time guarantee
lives. Each ``decompose`` mode turns components into a :class:`Plan` and the plan into tasks in its own
strategy (``authoring/decompose/``); the names come from ``names.py`` and ``pools/names.py``.

A *component* is a set of resources connected through transformers: a resource and every transformer fed
by it (transitively) always run in the same task, so each resource is extracted once. Components are found
with a union-find over each selected resource's parent chain (``_dlt_internals.parent_pipe_names``), which is
linear in the number of resources; ``DltSource.decompose("scc")`` gives the same grouping but is quadratic.
"""
# No ``from __future__ import annotations`` in this module: a NamedTuple whose field annotations are strings
# costs ~0.13 ms more to define, and every DAG parse defines these (bench/bench_parse.py).

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from airflow_dlt_provider.authoring.deprecations import DEPRECATED_DECOMPOSE, warn_deprecated
from airflow_dlt_provider.exceptions import InvalidArgumentError

DECOMPOSE_MODES: tuple[str, ...] = ("none", "serialize", "independent", "parallel-isolated", "mapped")
"""Accepted values of ``decompose`` (the ``Decompose`` type of ``authoring/vocabulary.py``); the deprecated
``"parallel"`` is still accepted, with a warning, as ``"independent"``."""


class Component(NamedTuple):
    """Resources that run together in one task, in the order the source declares them."""

    resources: tuple[str, ...]

    @property
    def first(self) -> str:
        return self.resources[0]


class PlannedTask(NamedTuple):
    """One task of the group."""

    task_id: str
    """Id inside the group (without the ``<group_id>.`` prefix)."""
    resources: tuple[str, ...] | None
    """Resources the task loads; ``None`` for the whole source (``decompose="none"`` without ``resources``)."""
    pipeline_name: str
    pool: str | None
    """Airflow pool of the task; ``None`` means Airflow's default pool."""
    isolated: bool = False
    """True when the task has its own pipeline (``parallel-isolated``; ``mapped``: each component's own)."""


class Plan(NamedTuple):
    """What to build: tasks (in creation order) and the edges ``(upstream_id, downstream_id)`` between them."""

    decompose: str
    source_name: str
    pipeline_name: str
    tasks: tuple[PlannedTask, ...]
    edges: tuple[tuple[str, str], ...]
    components: tuple[Component, ...] = ()

    @property
    def task_ids(self) -> list[str]:
        return [task.task_id for task in self.tasks]

    @property
    def pools(self) -> list[str]:
        """Distinct pools used by the tasks, in order of first use."""
        return list(dict.fromkeys(task.pool for task in self.tasks if task.pool is not None))

    def task_id_by_resource(self) -> dict[str, str]:
        """Resource name -> id of the task that loads it (only for tasks with explicit resources)."""
        return {name: task.task_id for task in self.tasks for name in task.resources or ()}

    def upstream_of(self, task_id: str) -> list[str]:
        return [up for up, down in self.edges if down == task_id]


# ---------------------------------------------------------------- arguments


def check_decompose(decompose: Any) -> str:
    """Return ``decompose`` if it is one of :data:`DECOMPOSE_MODES`, else raise a teaching error.

    A deprecated name warns (``DltProviderDeprecationWarning``) and is returned as its new name.
    """
    if isinstance(decompose, str) and decompose in DECOMPOSE_MODES:
        return decompose
    if isinstance(decompose, str) and decompose in DEPRECATED_DECOMPOSE:
        new = DEPRECATED_DECOMPOSE[decompose]
        warn_deprecated(
            f"decompose={decompose!r} is deprecated and will be removed in the next minor release: use "
            f"decompose={new!r} (the same tasks: one per component, the first one first; they share the "
            "pipeline and its one-slot pool, so they run one at a time). For components that load side by "
            "side, use decompose='parallel-isolated'"
        )
        return new
    raise InvalidArgumentError(f"decompose={decompose!r} is not one of: {', '.join(DECOMPOSE_MODES)}")


# ---------------------------------------------------------------- components


class _UnionFind:
    """Union-find over string keys with path halving and union by size: near-constant per operation."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.size: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key not in self.parent:
            self.parent[key] = key
            self.size[key] = 1

    def find(self, key: str) -> str:
        parent = self.parent
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return
        if self.size[root_a] < self.size[root_b]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]


def components_from_resources(resources: Iterable[Any]) -> list[Component]:
    """Group dlt resources into components by walking each resource's parent chain.

    ``resources`` are the resources to load (``DltResource`` objects, in source order). A transformer and
    the resource (or transformer) feeding it join one component, also when the feeding resource is not
    selected itself (two transformers sharing an unselected parent run together). Each pipe of a chain is
    visited once: the walk stops at the first pipe seen before, so the cost is linear in the number of pipes.
    """
    selected: list[str] = []
    forest = _UnionFind()
    for resource in resources:
        name = str(resource.name)
        selected.append(name)
        seen = name in forest.parent
        forest.add(name)
        if seen:
            continue  # already reached as the parent of a resource walked earlier; its chain is joined
        _join_chain(forest, name, parent_pipe_names(resource))  # lazy: stops at a seen pipe
    return _group_in_order(selected, forest)


def _join_chain(forest: _UnionFind, name: str, parents: Iterable[str]) -> None:
    """Join ``name`` with its feeding pipes, nearest first, up to the first one the forest already holds."""
    for parent in parents:
        parent_seen = parent in forest.parent
        forest.add(parent)
        forest.union(name, parent)
        if parent_seen:
            break
        name = parent


def _group_in_order(names: Sequence[str], forest: _UnionFind) -> list[Component]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(forest.find(name), []).append(name)
    return [Component(tuple(members)) for members in groups.values()]


class SourceGraph(NamedTuple):
    """What the planner needs of a source, as plain data: its name, selected resources and feeding pipes.

    Built from a ``DltSource`` with :meth:`from_source` and used in its place (the parse cache stores it).
    ``parents`` maps a transformer (or a parent walked from one) to the pipe feeding it; nothing else of the
    source -- no data, no arguments -- is kept.
    """

    name: str
    selected: tuple[str, ...]
    parents: Mapping[str, str] = MappingProxyType({})

    @classmethod
    def from_source(cls, source: Any) -> "SourceGraph":
        parents: dict[str, str] = {}
        selected = []
        for resource in source.resources.selected.values():
            name = str(resource.name)
            selected.append(name)
            for parent_name in parent_pipe_names(resource):  # lazy: stops at a known pipe
                if name in parents:
                    break
                parents[name] = parent_name
                name = parent_name
        return cls(str(source.name), tuple(selected), parents)

    def components(self, resources: Sequence[str] | None = None) -> list[Component]:
        """Components of the selected resources (or of ``resources``), as :func:`components_from_source`."""
        chosen = self.selected if resources is None else resources
        forest = _UnionFind()
        for name in chosen:
            forest.add(name)
            _join_chain(forest, name, self._parents_of(name))
        return _group_in_order(list(chosen), forest)

    def _parents_of(self, name: str) -> Iterator[str]:
        while (parent := self.parents.get(name)) is not None:
            yield parent
            name = parent


def components_from_source(source: Any, resources: Sequence[str] | None = None) -> list[Component]:
    """Components of a ``DltSource`` (or a :class:`SourceGraph`): its selected resources, or ``resources``."""
    if isinstance(source, SourceGraph):
        return source.components(resources)
    if resources is None:
        chosen = list(source.resources.selected.values())
    else:
        all_resources = source.resources
        chosen = [all_resources[name] for name in resources]
    return components_from_resources(chosen)


def components_from_names(resources: Sequence[str | Sequence[str]]) -> list[Component]:
    """Components given by name only (the factory is not called, so the graph is unknown).

    Each name is its own component; a nested sequence of names is one component, for resources connected
    through transformers: ``["users", ["issues", "comments"]]``.
    """
    components = []
    for item in resources:
        members = (item,) if isinstance(item, str) else tuple(item)
        if not members:
            raise InvalidArgumentError(f"resources={list(resources)!r} contains an empty group")
        components.append(Component(members))
    return components


def flatten_resource_names(resources: Sequence[str | Sequence[str]]) -> list[str]:
    """All names of ``resources`` (strings and nested groups) in order."""
    names: list[str] = []
    for item in resources:
        names.extend([item] if isinstance(item, str) else item)
    return names


def check_unique_resources(resources: Sequence[str | Sequence[str]]) -> None:
    """Raise when a resource name is listed twice (it would be loaded by two tasks)."""
    seen: dict[str, int] = {}
    for name in flatten_resource_names(resources):
        seen[name] = seen.get(name, 0) + 1
    twice = [name for name, count in seen.items() if count > 1]
    if twice:
        raise InvalidArgumentError(f"resources lists {', '.join(repr(n) for n in twice)} more than once")


def resource_items_valid(resources: Any) -> bool:
    """True when ``resources`` is a non-empty sequence of names or non-empty sequences of names."""
    if isinstance(resources, str) or not isinstance(resources, Sequence) or not resources:
        return False
    for item in resources:
        if isinstance(item, str):
            if not item:
                return False
        elif isinstance(item, Sequence) and not isinstance(item, Mapping):
            if not item or not all(isinstance(n, str) and n for n in item):
                return False
        else:
            return False
    return True


def parent_pipe_names(resource: Any) -> Iterator[str]:
    """``_dlt_internals.parent_pipe_names``, imported on first use: only live sources have parents to walk, and
    a parse of an import-string group never needs the module."""
    from airflow_dlt_provider import _dlt_internals

    return _dlt_internals.parent_pipe_names(resource)
