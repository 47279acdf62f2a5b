"""The ``[dlt]`` section of Airflow's configuration: one table of options, one reader.

The same table feeds the provider metadata's ``config`` section (so ``airflow config list --section dlt`` shows
every option with its description, and ``airflow config`` knows its type) and the reference page
``docs/reference/configuration.md`` (``python -m airflow_dlt_provider.settings`` prints it), so the three
cannot drift apart. Each option is set in ``airflow.cfg`` (``[dlt] <option> = ...``) or as the environment
variable ``AIRFLOW__DLT__<OPTION>``.

No Airflow import at module level: :func:`provider_config` is read by the provider manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

SECTION = "dlt"
SECTION_DESCRIPTION = (
    "Options of the dlt provider (airflow-dlt-provider): where a worker keeps dlt's files and where a "
    "pipeline's pending load packages wait between tasks."
)


@dataclass(frozen=True)
class Option:
    """One ``[dlt]`` option: what the provider metadata declares and the docs list."""

    name: str
    description: str
    example: str
    default: str | None = None  # None: unset (the reader derives a value, see the description)
    type: str = "string"
    version_added: str = "0.1.0"
    sensitive: bool = (
        False  # Airflow masks it in `airflow config list` and accepts `<option>_cmd` / `_secret`
    )

    @property
    def env_var(self) -> str:
        return f"AIRFLOW__{SECTION.upper()}__{self.name.upper()}"


OPTIONS: tuple[Option, ...] = (
    Option(
        name="base_dir",
        description=(
            "Folder of the provider's files on a worker: task working directories (unless working_dir is "
            "set) and the files of the embedded DuckDB destination. Unset: $AIRFLOW_HOME/dlt."
        ),
        example="/opt/airflow/dlt",
    ),
    Option(
        name="working_dir",
        description=(
            "Where task working directories and pipeline folders live: local scratch space of the worker, "
            "kept across retries on the same worker. Unset: <base_dir>/work."
        ),
        example="/tmp/airflow-dlt",
    ),
    Option(
        name="package_store",
        description=(
            "fsspec URL shared by all workers where a pipeline's pending load packages and state wait "
            "between tasks, so that a retry or the next task of the pipeline finishes them on any worker. "
            "Unset: pending packages stay on the worker that made them."
        ),
        example="s3://my-bucket/dlt-packages",
    ),
    Option(
        name="package_store_conn_id",
        description=(
            "Airflow connection holding the credentials of package_store (e.g. an aws or "
            "google_cloud_platform connection). Unset: the filesystem's own default credentials."
        ),
        example="aws_default",
    ),
    Option(
        name="package_store_key",
        description=(
            "Secret the workers sign what they write to package_store with (HMAC-SHA256), so that whoever "
            "else can write to the store cannot forge packages, progress or done records; a record without a "
            "valid signature is ignored and the task extracts its own rows. A comma-separated list rotates "
            "keys: the first signs, every one is accepted. Every worker needs the same value. Unset: "
            "[core] fernet_key, else Airflow's secret_key."
        ),
        example="a long random string (e.g. from a secrets backend: package_store_key_secret)",
        sensitive=True,
    ),
    Option(
        name="holder_wait_seconds",
        description=(
            "How long a task waits for another holder of its pipeline's folder (a second pool slot, a "
            "backfill beside a scheduled run) before it fails retryably, naming the holder."
        ),
        example="600",
        default="300",
        type="float",
    ),
    Option(
        name="holder_lease_seconds",
        description=(
            "How long a holder's lease in package_store lasts without being renewed: the time after which "
            "a killed worker's lease is taken over (at least 3)."
        ),
        example="60",
        default="120",
        type="float",
    ),
)
OPTION_NAMES = frozenset(option.name for option in OPTIONS)
_BY_NAME = {option.name: option for option in OPTIONS}


def provider_config() -> dict[str, dict[str, object]]:
    """The provider metadata's ``config`` section (Airflow's provider-info schema)."""
    return {
        SECTION: {
            "description": SECTION_DESCRIPTION,
            "options": {
                option.name: {
                    "description": option.description,
                    "version_added": option.version_added,
                    "type": option.type,
                    "example": option.example,
                    "default": option.default,
                    **({"sensitive": True} if option.sensitive else {}),
                }
                for option in OPTIONS
            },
        }
    }


def _declared(name: str) -> Option:
    if name not in _BY_NAME:
        raise KeyError(
            f"[dlt] {name} is not an option of the dlt provider; options: {', '.join(sorted(OPTION_NAMES))}"
        )
    return _BY_NAME[name]


def env_var(name: str) -> str:
    """The environment variable that sets ``[dlt] <name>`` (``AIRFLOW__DLT__<NAME>``)."""
    return _declared(name).env_var


def option(name: str) -> str | None:
    """The value of ``[dlt] <name>`` (stripped), ``None`` when unset or empty. Read at run time only."""
    _declared(name)
    from airflow_dlt_provider import _compat

    value = _compat.conf_get(SECTION, name, fallback=None)
    value = None if value is None else value.strip()
    return value or None


def default_seconds(name: str) -> float:
    """The declared default of a ``float`` option of seconds."""
    return float(str(_declared(name).default))


def seconds(name: str, minimum: float) -> float:
    """``[dlt] <name>`` as seconds (its declared default when unset); an error naming it below ``minimum``."""
    default = default_seconds(name)
    raw = option(name) or ""
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value >= minimum) or value == float("inf"):
        from airflow_dlt_provider.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            f"[dlt] {name} = {raw[:40]!r} is not accepted; expected a number of seconds >= {minimum:g} "
            f"(default {default:g})"
        )
    return value


def package_store_key_sources() -> Iterator[tuple[str, str, str]]:
    """``(section, option, value)`` of each place the secret that signs ``package_store`` may be, in order:
    ``[dlt] package_store_key``, then Airflow's ``[core] fernet_key``, then its ``secret_key`` (``[api]`` on
    Airflow 3, ``[webserver]`` on Airflow 2). Each is read only when the one before it gave no secret."""
    from airflow_dlt_provider import _compat

    yield SECTION, "package_store_key", option("package_store_key") or ""
    yield "core", "fernet_key", _compat.conf_get("core", "fernet_key") or ""
    web_section = "api" if _compat.AIRFLOW_V_3_0_PLUS else "webserver"
    yield web_section, "secret_key", _compat.conf_get(web_section, "secret_key") or ""


def reference_markdown() -> str:
    """``docs/reference/configuration.md``: the options as the provider metadata declares them."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m airflow_dlt_provider.settings` from airflow_dlt_provider/settings.py",
        "     (the same table as the provider metadata's `config` section); do not edit by hand. -->",
        "",
        f"The provider reads the `[{SECTION}]` section of Airflow's configuration. Set an option in `airflow.cfg`",
        f"(`[{SECTION}]` then `option = value`) or as an environment variable `AIRFLOW__{SECTION.upper()}__<OPTION>`.",
        f"`airflow config list --section {SECTION} --include-descriptions` shows them with these descriptions",
        f"(the provider declares them in its metadata); `airflow config get-value {SECTION} <option>` shows a value.",
        "",
        SECTION_DESCRIPTION,
        "",
        "| option | environment variable | type | default | example |",
        "|---|---|---|---|---|",
    ]
    for opt in OPTIONS:
        default = "(unset)" if opt.default is None else f"`{opt.default}`"
        lines.append(f"| `{opt.name}` | `{opt.env_var}` | {opt.type} | {default} | `{opt.example}` |")
    lines.append("")
    for opt in OPTIONS:
        lines += [f"## `{opt.name}`", "", opt.description, ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates the docs page
    print(reference_markdown(), end="")
