"""Where a pipeline's load packages are going: the binding that ties pending packages to one destination.

A load package is extracted for one destination and dataset. Two DAGs (or two deployments sharing one
``[dlt] package_store``) may use the same ``pipeline_name`` with different destinations; a package left
pending by one must never be loaded by the other. The binding is

- the destination type (``postgres``, ``duckdb``, ``filesystem``, ``destination`` for a function, ...),
- a fingerprint of where it points, without credentials: host, port and database; a DuckDB file's path;
  a filesystem's bucket URL without user info; a function destination's qualified name, its destination
  name and a hash of its plain non-secret config arguments (an ``api_url``: where it sends rows),
- the dataset name,

and the pipeline's folder and package store entry are one per ``(pipeline_name, binding)``
(``<working_dir>/.pipelines/<pipeline>/<binding key>``): a task never even sees another binding's packages.
A task whose pipeline has pending packages under other bindings logs them (:func:`other_bindings_note`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BINDING_FILE = "airflow_dlt_binding.json"
KEY_LENGTH = 16
CONFIGURED_DATASET = "<dataset from dlt's configuration>"
_AIRFLOW_DAG_MODULE = re.compile(r"^unusual_prefix_[0-9a-f]{40}_")


@dataclass(frozen=True)
class Binding:
    """Destination type, credentials-free location and dataset that pending packages belong to."""

    destination_type: str
    location: str
    dataset: str

    @property
    def key(self) -> str:
        """A folder name for the binding: a hash, so no id or location reaches the file system."""
        text = json.dumps(asdict(self), sort_keys=True)
        return "b" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]

    def describe(self) -> str:
        return f"{self.destination_type} at {self.location or '<location unknown>'}, dataset {self.dataset!r}"

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Binding | None:
        """A binding read back from a file (``None`` when the file does not hold one)."""
        if not isinstance(value, Mapping):
            return None
        fields = {name: value.get(name) for name in ("destination_type", "location", "dataset")}
        if not all(isinstance(v, str) and len(v) < 2000 for v in fields.values()):
            return None
        return cls(**fields)  # type: ignore[arg-type]


def binding_for(destination: Any, dataset_name: str | None) -> Binding:
    """The binding of a dlt destination factory and the task's dataset, before a pipeline exists.

    Resolves the destination's configuration partially (no connection is opened) and keeps only where it
    points. ``dataset_name=None`` (dlt's configuration decides) is a binding of its own.
    """
    destination = _as_factory(destination)
    if _is_function(destination):  # its type is the class dlt makes for it, named after the function
        destination_type = "destination"
    else:
        destination_type = str(getattr(destination, "destination_type", destination)).rsplit(".", 1)[-1]
    return Binding(
        destination_type=destination_type,
        location=_location(destination, destination_type),
        dataset=CONFIGURED_DATASET if dataset_name is None else str(dataset_name),
    )


def _is_function(destination: Any) -> bool:
    import dlt

    return isinstance(destination, dlt.destinations.destination)


def _as_factory(destination: Any) -> Any:
    """dlt's destination factory for a name, a factory or a ``@dlt.destination`` function."""
    from dlt.common.destination import Destination

    try:
        return Destination.from_reference(destination)
    except Exception:  # dlt refuses it when the pipeline is created, with its own message
        return destination


def _location(destination: Any, destination_type: str) -> str:
    from airflow_dlt_provider.assets.locations import location_from_config

    try:
        config = destination.configuration(destination.spec(), accept_partial=True)
    except Exception as error:  # e.g. a driver imported while resolving: the type and dataset still bind
        log.info("the location of destination %s is unknown (%s)", destination_type, type(error).__name__)
        return ""
    if destination_type == "destination":
        return _function_location(config)
    location = location_from_config(destination_type, config)
    parts = [location.host, str(location.port or ""), location.database, location.path]
    return "/".join(part or "" for part in parts).strip("/")


def _function_location(config: Any) -> str:
    from airflow_dlt_provider import _dlt_internals

    function = _function_name(getattr(config, "destination_callable", None))
    settings = _dlt_internals.function_destination_settings(config)
    if not settings:
        return function
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    return f"{function} (settings {digest})"


def _function_name(callable_: Any) -> str:
    if isinstance(callable_, str):
        return callable_
    # a DAG file's module is named after a hash of the file's path: the binding must survive a moved file
    module = _AIRFLOW_DAG_MODULE.sub("", getattr(callable_, "__module__", "") or "")
    name = getattr(callable_, "__qualname__", "") or getattr(callable_, "__name__", "") or ""
    return f"{module}.{name}".strip(".")


def read_binding(folder: Path) -> Binding | None:
    from airflow_dlt_provider.runtime.ledger import read_json

    return Binding.from_json(read_json(folder / BINDING_FILE))


def write_binding(folder: Path, binding: Binding) -> None:
    from airflow_dlt_provider.runtime.ledger import write_json

    if read_binding(folder) != binding:
        write_json(folder / BINDING_FILE, binding.to_json())


def other_bindings_note(pipeline_folder: Path, mine: Binding) -> list[str]:
    """Descriptions of the other bindings of this pipeline on this worker that still hold load packages."""
    if not pipeline_folder.is_dir():
        return []
    notes = []
    for folder in sorted(p for p in pipeline_folder.iterdir() if p.is_dir() and p.name != mine.key):
        binding = read_binding(folder)
        loads = folder.glob("*/load/*/*")
        if binding is not None and any(True for _ in loads):
            notes.append(binding.describe())
    return notes
