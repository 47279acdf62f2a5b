"""Where a pipeline's load packages are going: the binding that ties pending packages to one destination.

A load package is extracted for one destination and dataset. Two DAGs (or two deployments sharing one
``[dlt] package_store``) may use the same ``pipeline_name`` with different destinations; a package left
pending by one must never be loaded by the other. The binding is

- the destination type (``postgres``, ``duckdb``, ``filesystem``, ``destination`` for a function, ...),
- a fingerprint of where it points, without credentials: host, port and database; a DuckDB file's path;
  a filesystem's bucket URL without user info; a function destination's qualified name,
- the dataset name,

and the pipeline's folder and package store entry are one per ``(pipeline_name, binding)``
(``<working_dir>/.pipelines/<pipeline>/<binding key>``): a task never even sees another binding's packages.
A task whose pipeline has pending packages under other bindings logs them (:func:`other_bindings_note`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("airflow_dlt_provider.binding")

BINDING_FILE = "airflow_dlt_binding.json"
KEY_LENGTH = 16
CONFIGURED_DATASET = "<dataset from dlt's configuration>"


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
    destination_type = str(getattr(destination, "destination_type", destination))
    return Binding(
        destination_type=destination_type.rsplit(".", 1)[-1],
        location=_location(destination, destination_type),
        dataset=CONFIGURED_DATASET if dataset_name is None else str(dataset_name),
    )


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
    if destination_type.rsplit(".", 1)[-1] == "destination":
        return _function_name(getattr(config, "destination_callable", None))
    location = location_from_config(destination_type, config)
    parts = [location.host, str(location.port or ""), location.database, location.path]
    return "/".join(part or "" for part in parts).strip("/")


def _function_name(callable_: Any) -> str:
    if isinstance(callable_, str):
        return callable_
    module = getattr(callable_, "__module__", "") or ""
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
