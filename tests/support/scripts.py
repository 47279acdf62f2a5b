"""The repository's scripts (``scripts/<name>.py``) imported as modules, for the tests of the docs generators."""

from __future__ import annotations

import importlib.util
from typing import Any

from support import REPO_ROOT


def load_script(name: str) -> Any:
    """The repository's ``scripts/<name>.py`` imported as a module (the docs generators are scripts)."""
    path = REPO_ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
