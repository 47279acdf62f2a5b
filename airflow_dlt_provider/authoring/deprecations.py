"""Warnings about how a DAG file uses the API, attributed to the DAG file's line (not to this package).

Old argument names and values keep working for one minor release with a ``DltProviderDeprecationWarning``
that names the replacement; ``pool=None`` warns with ``UnprotectedPipelineWarning``.
"""

from __future__ import annotations

import sys
import warnings

from airflow_dlt_provider.exceptions import DltProviderDeprecationWarning

__all__ = ["DEPRECATED_DECOMPOSE", "warn_about_usage", "warn_deprecated"]

DEPRECATED_DECOMPOSE: dict[str, str] = {"parallel": "independent"}
"""Old ``decompose`` values -> their new names (an old one is removed in the next minor release)."""

_INTERNAL_PACKAGES = ("airflow_dlt_provider", "airflow")


def _outside_stacklevel() -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` in the caller's caller) of the first frame outside this
    package and Airflow: the DAG file or test that called the API, past Airflow's ``__init__`` wrappers."""
    frame = sys._getframe(2)  # the function that called warn_deprecated / warn_about_usage
    level = 1
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not any(module == p or module.startswith(p + ".") for p in _INTERNAL_PACKAGES):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_deprecated(message: str) -> None:
    """A ``DltProviderDeprecationWarning`` pointing at the DAG file's line."""
    warnings.warn(message, DltProviderDeprecationWarning, stacklevel=_outside_stacklevel() + 1)


def warn_about_usage(message: str, category: type[Warning]) -> None:
    """A warning of ``category`` pointing at the DAG file's line."""
    warnings.warn(message, category, stacklevel=_outside_stacklevel() + 1)
