"""Every use of a dlt name that dlt does not document as public, in one place.

One small function (or constant) per use, each saying why no public API serves. Each entry has a contract
test in ``tests/integration/seams/test_dlt_internals.py`` that runs it against the installed dlt (real resources, a real
pipeline and load package, not mocks) and fails naming the entry (``_dlt_internals.<name>``) when a dlt
release changes what it relies on. A grep for private dlt names finds this file only.

Importing this module is cheap: it imports nothing of dlt at module level (the parse-time entries are used
by ``authoring``, which must not import dlt for import-string sources).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

__all__ = [
    "FILE_NAME_FORBIDDEN_CHARS",
    "RESERVED_FILE_NAMES",
    "airflow_secrets_provider_class",
    "airflow_secrets_provider_patched",
    "airflow_secrets_toml_key_names",
    "apply_package_progress",
    "commit_marker",
    "complete_from_defaults",
    "complete_package_locally",
    "delete_loaded_package",
    "dlt_logger_name",
    "function_destination_settings",
    "incremental_function_default",
    "job_table_name",
    "mark_state_restored",
    "package_progress",
    "package_schema_tables",
    "package_writes_observed",
    "parent_pipe_names",
    "schema_update_applied",
    "set_wrapper_own_external_schedulers",
    "staging_dataset_for",
    "start_job",
    "tables_reset_by_refresh",
    "tables_truncated_by_init",
    "time_interval_context",
    "trace_file_name",
    "wrapper_own_external_schedulers",
    "write_commit_marker",
]

# ---------------------------------------------------------------- parse time (no dlt import)

# Mirror of ``dlt.common.storages.FileStorage.validate_file_name_component`` (a pipeline name is a folder):
# characters no platform accepts in a file name (pathvalidate's "Universal" platform) and ". % { }".
# Why not dlt's own check: the name is checked at DAG parse time, and importing dlt costs ~1.4 s per parse.
# A set, not a regex: compiling one costs ~0.15 ms on every DAG parse.
FILE_NAME_FORBIDDEN_CHARS = frozenset([chr(code) for code in range(0x20)] + list('\x7f/\\:*?"<>|.%{}'))
RESERVED_FILE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "CLOCK$", "NUL"] + [f"{p}{i}" for p in ("COM", "LPT") for i in range(10)]
)


def parent_pipe_names(resource: Any) -> Iterator[str]:
    """Names of the pipes feeding ``resource`` (a transformer), nearest first; nothing for a plain resource.

    Uses ``DltResource._pipe`` and ``Pipe.parent``/``Pipe.is_empty``/``Pipe.name``. Why no public API: the
    public ``source.resources.selected_dag`` walks every selected resource's chain to its root, which is
    quadratic on long transformer chains; the planner must stay linear, so it walks lazily and stops at the
    first pipe it has seen (authoring/plan.py, bench/bench_build.py).
    """
    pipe = resource._pipe
    while (parent := pipe.parent) is not None and not parent.is_empty:
        yield str(parent.name)
        pipe = parent


# ---------------------------------------------------------------- run time: incrementals and intervals


def incremental_function_default(resource: Any) -> Any:
    """The ``dlt.sources.incremental`` given as the default of the resource function's argument, or ``None``.

    Uses ``DltResource._pipe.gen`` and ``IncrementalResourceWrapper.get_incremental_arg``. Why no public API:
    before the resource function runs, dlt knows that incremental only from the function's signature;
    ``resource.incremental`` holds it only once the function was called.
    """
    import inspect

    from dlt.extract.incremental import IncrementalResourceWrapper

    function = getattr(getattr(resource, "_pipe", None), "gen", None)
    if not callable(function):
        return None
    try:
        parameter = IncrementalResourceWrapper.get_incremental_arg(inspect.signature(function))
    except (TypeError, ValueError):
        return None
    return getattr(parameter, "default", None)


def wrapper_own_external_schedulers(wrapper: Any) -> bool | None:
    """The wrapper's own ``allow_external_schedulers`` (``None``: not set), as the block restores it.

    ``IncrementalResourceWrapper._allow_external_schedulers``. Why no public API: the public property reads
    the bound incremental's flag when one is bound, and its setter also writes that incremental, so the
    wrapper's own value (usually ``None``) cannot be read or put back through it.
    """
    return wrapper._allow_external_schedulers  # type: ignore[no-any-return]


def set_wrapper_own_external_schedulers(wrapper: Any, value: bool | None) -> None:
    """Put back the wrapper's own flag read by :func:`wrapper_own_external_schedulers` (see there)."""
    wrapper._allow_external_schedulers = value


def time_interval_context(
    interval: tuple[datetime, datetime] | None, allow_external_schedulers: bool = True
) -> contextlib.AbstractContextManager[Any]:
    """Hand dlt an external scheduler's interval for the block (``None``: none, incrementals use state).

    ``dlt.extract.incremental.context.TimeIntervalContext`` injected with ``Container().injectable_context``.
    Why no public API: it is dlt's only way to give incrementals with ``allow_external_schedulers=True`` a
    window for a block and put the previous one back; the public ``dlt.current.interval.set`` only edits
    an existing context, and cannot stop dlt from auto-detecting Airflow's interval. (It does not exist in
    dlt 1.20.)
    """
    from dlt.common.configuration.container import Container
    from dlt.extract.incremental.context import TimeIntervalContext

    if interval is None:
        context = TimeIntervalContext(interval=None, allow_external_schedulers=allow_external_schedulers)
    else:
        context = TimeIntervalContext(interval=interval)
    return Container().injectable_context(context)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- run time: the pipeline and its packages


def mark_state_restored(pipeline: Any) -> None:
    """Tell ``pipeline`` its state was just synced from the destination, so ``run()`` does not sync again.

    ``Pipeline._state_restored``. Why no public API: the task syncs first (``sync_destination``) to read
    the schema baseline; ``restore_from_destination=False`` would also stop dlt from writing the state to the
    destination, so only this flag saves the second round trip.
    """
    if hasattr(pipeline, "_state_restored"):
        pipeline._state_restored = True


def _normalized_packages(pipeline: Any) -> Any:
    return pipeline._get_load_storage().normalized_packages


def commit_marker(pipeline: Any, load_id: str, job_file_name: str) -> str | None:
    """The state dlt recorded for a started job after its destination transaction (``None``: none).

    ``PackageStorage.load_pending_transition``. Why no public API: ``LoadPackageInfo`` says only whether a
    package has pending transitions, not which job's.
    """
    marker = _normalized_packages(pipeline).load_pending_transition(load_id, job_file_name)
    return None if marker is None else str(marker[0])


def start_job(pipeline: Any, load_id: str, job_file_name: str) -> None:
    """Move a new job of a normalized package to its started jobs, as dlt's loader does before running it.

    ``PackageStorage.start_job``. Why no public API: a package copied to the package store before the load
    holds as *new* the jobs that a worker killed later had already committed; only a started job can be given
    dlt's "completed" marker (:func:`write_commit_marker`).
    """
    _normalized_packages(pipeline).start_job(load_id, job_file_name)


def write_commit_marker(pipeline: Any, load_id: str, job_file_name: str) -> None:
    """Record that a started job's rows are committed, as dlt does right after the commit.

    ``PackageStorage.save_pending_transition(load_id, file, "completed", None)``. Why no public API: dlt has
    no call to say "this job already committed"; its own loader, on the next ``load()``/``run()``, turns a
    started job with this marker into a completed one without running it (followup jobs and package
    completion as usual). Writing the marker, not moving job files, leaves the package transitions to dlt.
    """
    _normalized_packages(pipeline).save_pending_transition(load_id, job_file_name, "completed", None)


def staging_dataset_for(client: Any, table_name: str) -> contextlib.AbstractContextManager[Any]:
    """Point ``client.sql_client`` at the dataset dlt loads ``table_name``'s jobs into (staging or final).

    ``SqlJobClientBase.should_load_data_to_staging_dataset`` and ``SqlClientBase.with_staging_dataset``.
    Why no public API: a started job of a ``merge``/``replace`` table writes to dlt's staging dataset, and
    only the job client knows that choice; ``pipeline.sql_client()`` always points at the final dataset.
    """
    if client.should_load_data_to_staging_dataset(table_name):
        return client.sql_client.with_staging_dataset()  # type: ignore[no-any-return]
    return contextlib.nullcontext()


def job_table_name(job_id: str) -> str:
    """The table of a load job from its id, as ``LoadClientJobException.job_id`` holds it.

    dlt's job id is ``<table>.<file_id>.<format>[.gz]`` (``ParsedLoadJobFileName.job_id()``); a job file name
    adds the retry count (``ParsedLoadJobFileName.parse`` reads those). Why no public API: the exception
    carries only the id; ``LoadJobInfo.job_file_info`` (public) exists only for jobs listed from a package.
    """
    from dlt.common.storages.load_package import ParsedLoadJobFileName

    with contextlib.suppress(Exception):  # a job file name: <table>.<file_id>.<retry>.<format>[.gz]
        return str(ParsedLoadJobFileName.parse(job_id).table_name)
    parts = job_id.removesuffix(".gz").rsplit(".", 2)
    if len(parts) != 3:
        raise ValueError(f"{job_id!r} is not a dlt job id")
    return parts[0]


# ---------------------------------------------------------------- run time: logging and configuration


def trace_file_name() -> str:
    """The file in a pipeline's working directory where dlt pickles its last trace.

    ``dlt.pipeline.trace.TRACE_FILE_NAME``. Why no public API: a failed attempt's kept folder must not keep
    the trace (it holds exception texts, so maybe secrets), and dlt has no call that drops it.
    """
    from dlt.pipeline.trace import TRACE_FILE_NAME

    return str(TRACE_FILE_NAME)


def complete_from_defaults(credentials: Any) -> None:
    """Let incomplete credentials fill themselves from the worker's defaults (GCP, AWS, Azure), as dlt does.

    ``BaseConfiguration.call_method_in_mro("on_partial")``. Why no public API: dlt runs this hook only inside
    its own configuration resolution; a credentials object built from an Airflow connection and handed to
    an untyped source argument is not resolved by dlt again.
    """
    credentials.call_method_in_mro("on_partial")


def dlt_logger_name() -> str | None:
    """Name of the logger dlt writes to (``None`` before dlt initialised its logging).

    ``dlt.common.logger.LOGGER``. Why no public API: the name comes from dlt's runtime configuration and
    dlt exposes the logger object only as this module attribute.
    """
    from dlt.common import logger

    return None if logger.LOGGER is None else str(logger.LOGGER.name)


def _airflow_secrets_toml_provider() -> tuple[Any, str] | None:
    try:
        from dlt.common.configuration.providers.airflow import AirflowSecretsTomlProvider
        from dlt.common.configuration.providers.vault import SECRETS_TOML_KEY
    except ImportError:  # pragma: no cover - dlt without the Airflow provider
        return None
    return AirflowSecretsTomlProvider, SECRETS_TOML_KEY


def airflow_secrets_toml_key_names(pipeline_name: str | None) -> list[str] | None:
    """The Variable names dlt's Airflow provider asks for: ``dlt_secrets_toml`` (and ``<pipeline>.`` scoped).

    ``AirflowSecretsTomlProvider.get_key_name`` with ``vault.SECRETS_TOML_KEY``. Why no public API: dlt
    documents the Variable name but exports neither the provider class nor the key. ``None`` when the
    installed dlt has no Airflow provider.
    """
    found = _airflow_secrets_toml_provider()
    if found is None:
        return None
    provider, key = found
    scopes = [(), (pipeline_name,)] if pipeline_name else [()]
    return [provider.get_key_name(key, *scope) for scope in scopes]


@contextlib.contextmanager
def airflow_secrets_provider_patched(
    get_value: Callable[..., Any],
    look_vault: Callable[..., Any],
    make_providers: Callable[[Any], list[Any]],
) -> Iterator[None]:
    """Replace how dlt's Airflow provider looks values up, for the block; restored afterwards.

    Class-level patches of ``AirflowSecretsTomlProvider.get_value`` and ``._look_vault`` (one Variable
    lookup per key) and of ``config_providers_context._airflow_providers`` (dlt's factory that probes
    ``airflow.models.TaskInstance`` first) by ``make_providers(settings)``. Why no public API: dlt has no setting to limit that provider to the
    ``dlt_secrets_toml`` Variables, and dlt re-creates its providers while a pipeline activates, so an
    instance registered by us would be replaced; only the class and the factory reach those instances.
    """
    found = _airflow_secrets_toml_provider()
    if found is None:  # pragma: no cover - dlt without the Airflow provider
        yield
        return
    provider = found[0]
    from dlt.common.configuration.specs import config_providers_context

    with contextlib.ExitStack() as patches:
        patches.enter_context(_patched(provider, "get_value", get_value))
        patches.enter_context(_patched(provider, "_look_vault", look_vault))
        if hasattr(config_providers_context, "_airflow_providers"):
            patches.enter_context(_patched(config_providers_context, "_airflow_providers", make_providers))
        yield


def airflow_secrets_provider_class() -> Any:
    """dlt's ``AirflowSecretsTomlProvider`` class (``None`` without it), for ``make_providers`` above."""
    found = _airflow_secrets_toml_provider()
    return None if found is None else found[0]


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``owner.name`` to ``value`` for the block; afterwards restore it (or remove it if it was inherited)."""
    missing = object()
    previous = vars(owner).get(name, missing)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if previous is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)


# ---------------------------------------------------------------- run time: resuming load packages


def _package_storage(pipeline: Any, state: str) -> Any:
    storage = pipeline._get_load_storage()
    return {"normalized": storage.normalized_packages, "loaded": storage.loaded_packages}[state]


def schema_update_applied(pipeline: Any, load_id: str) -> bool:
    """Whether dlt already created/updated the destination's tables for a normalized package.

    ``LoadStorage.begin_schema_update`` is ``None`` once ``applied_schema_updates.json`` exists. Why no public
    API: ``LoadPackageInfo`` does not say it, and it decides whether dlt's next ``load()`` initialises the
    package again -- which truncates the staging tables (and ``replace`` tables) that have jobs.
    """
    return pipeline._get_load_storage().begin_schema_update(load_id) is None  # type: ignore[no-any-return]


def tables_truncated_by_init(client: Any, table_names: Iterator[str] | list[str]) -> set[str]:
    """The tables whose rows dlt deletes when it initialises a package again (see :func:`schema_update_applied`).

    ``JobClientBase.should_truncate_table_before_load`` (``replace`` with ``truncate-and-insert``) and
    ``WithStagingDataset.should_load_data_to_staging_dataset`` (merge, ``replace`` through staging: dlt
    truncates every staging table that has jobs). Why no public API: only the job client knows these
    choices, per table.
    """
    truncated = set()
    for name in table_names:
        staged = getattr(client, "should_load_data_to_staging_dataset", None)
        if client.should_truncate_table_before_load(name) or (staged is not None and staged(name)):
            truncated.add(name)
    return truncated


def tables_reset_by_refresh(pipeline: Any, load_id: str) -> set[str]:
    """The tables dlt drops or truncates when it initialises a package extracted with ``refresh``
    (the package state's ``dropped_tables`` and ``truncated_tables``, as ``Load.initialize_package`` reads
    them). Why no public API: the package state's keys are dlt's own record of a refresh.
    """
    state = _package_storage(pipeline, "normalized").get_load_package_state(load_id)
    names: set[str] = set()
    for key in ("dropped_tables", "truncated_tables"):
        for table in state.get(key) or []:
            name = table.get("name") if isinstance(table, dict) else table
            if isinstance(name, str):
                names.add(name)
    return names


def package_progress(pipeline: Any, load_id: str, with_schema_update: bool = True) -> dict[str, Any]:
    """What dlt recorded so far while loading a package, as plain JSON (see ``runtime/journal.py``).

    ``{"applied_schema_update": <dict or None>, "completed": [job file], "failed": {job file: message},
    "transitions": {job file: [state, message]}, "package_state": <dict>}`` read with ``PackageStorage``
    (``list_job_with_states_for_table`` is not needed: the folders are listed directly). Why no public API:
    ``get_load_package_info`` builds full job infos (stats every file) and omits the pending transitions and
    the applied schema update marker.
    """
    import json
    import os

    packages = _package_storage(pipeline, "normalized")
    if load_id not in packages.list_packages():
        return {}
    storage = packages.storage
    package_path = packages.get_package_path(load_id)

    def names(folder: str) -> list[str]:
        path = os.path.join(package_path, folder)
        return sorted(storage.list_folder_files(path, to_root=False)) if storage.has_folder(path) else []

    applied_path = os.path.join(package_path, packages.APPLIED_SCHEMA_UPDATES_FILE_NAME)
    applied = None
    if with_schema_update and storage.has_file(applied_path):
        applied = json.loads(storage.load(applied_path))
    transitions = {}
    for name in packages.list_pending_transitions(load_id):
        pending = packages.load_pending_transition(load_id, name)
        if pending is not None:
            transitions[name] = [pending[0], pending[1]]
    failed = {}
    failed_names = names(packages.FAILED_JOBS_FOLDER)
    for name in failed_names:
        if not name.endswith(".exception"):
            message_file = os.path.join(package_path, packages.FAILED_JOBS_FOLDER, name + ".exception")
            failed[name] = (
                storage.load(message_file) if name + ".exception" in failed_names else "failed terminally"
            )
    state = dict(packages.get_load_package_state(load_id))
    state.pop("_version_hash", None)
    return {
        "applied_schema_update": applied,
        "completed": names(packages.COMPLETED_JOBS_FOLDER),
        "failed": failed,
        "transitions": transitions,
        "package_state": json.loads(json.dumps(state, default=str)),
    }


def apply_package_progress(pipeline: Any, load_id: str, progress: dict[str, Any]) -> list[str]:
    """Bring a normalized package restored from an older copy up to ``progress`` (of :func:`package_progress`).

    Jobs recorded completed or failed get dlt's own "pending transition" marker (a new job is first moved
    to the started jobs, as dlt's loader does), so dlt's next ``load()`` finalises them without running them;
    the applied schema update is written as dlt writes it; a newer package state (a function destination's
    delivered batches) replaces the older one. Returns the job files so marked. Uses ``PackageStorage``
    ``start_job``/``save_pending_transition``/``save_load_package_state`` and ``LoadStorage.commit_schema_update``.
    Why no public API: dlt has no call to merge what another copy of a package recorded.
    """
    import os

    packages = _package_storage(pipeline, "normalized")
    if load_id not in packages.list_packages():
        return []
    marked: list[str] = []
    done = {name: ("completed", None) for name in progress.get("completed", [])}
    done.update({name: ("failed", message) for name, message in (progress.get("failed") or {}).items()})
    for name, (state, message) in (progress.get("transitions") or {}).items():
        done.setdefault(name, (state, message))
    new = set(os.path.basename(p) for p in packages.list_new_jobs(load_id))
    started = set(os.path.basename(p) for p in packages.list_started_jobs(load_id))
    # dlt renames a job it retries (its retry count is part of the file name): the record may name a later
    # retry of a job this copy holds under an earlier name
    here = {_job_identity(name): name for name in new | started}
    for recorded, (state, message) in sorted(done.items()):
        name = recorded if recorded in new | started else here.get(_job_identity(recorded), recorded)
        if name in new:
            packages.start_job(load_id, name)
        elif name not in started:
            continue  # already final here, or a followup job this copy has not created yet
        packages.save_pending_transition(load_id, name, state, message)
        marked.append(name)
    applied = progress.get("applied_schema_update")
    if applied is not None and not schema_update_applied(pipeline, load_id):
        pipeline._get_load_storage().commit_schema_update(load_id, applied)
    stored_state = progress.get("package_state") or {}
    if stored_state:
        local_state = dict(packages.get_load_package_state(load_id))
        merged = {**stored_state, **local_state}
        delivered = dict(stored_state.get("destination_state") or {})
        for key, offset in (local_state.get("destination_state") or {}).items():
            if isinstance(offset, int) and isinstance(delivered.get(key), int):
                delivered[key] = max(offset, delivered[key])
            else:
                delivered[key] = offset
        if delivered:
            merged["destination_state"] = delivered
        if merged != local_state:
            packages.save_load_package_state(load_id, merged)
    return marked


def _job_identity(file_name: str) -> tuple[str, ...]:
    """A job file's name without dlt's retry count (``ParsedLoadJobFileName``): the same job across retries."""
    from dlt.common.storages.load_package import ParsedLoadJobFileName

    try:
        parsed = ParsedLoadJobFileName.parse(file_name)
    except Exception:  # not a job file name dlt would write: only the exact name matches
        return (file_name,)
    return (parsed.table_name, parsed.file_id, parsed.file_format)


def complete_package_locally(pipeline: Any, load_id: str) -> None:
    """Move a normalized package to the loaded packages without loading anything (the destination has it).

    Every job still new or started is first marked completed, then ``LoadStorage.complete_load_package``
    moves the package as dlt's loader does after ``complete_load``. Why no public API: dlt's only way to
    complete a package is to load it, which for SQL destinations inserts its ``_dlt_loads`` row again.
    """
    import os

    storage = pipeline._get_load_storage()
    packages = storage.normalized_packages
    for path in packages.list_new_jobs(load_id):
        packages.start_job(load_id, os.path.basename(path))
    for path in packages.list_started_jobs(load_id):
        name = os.path.basename(path)
        packages.complete_job(load_id, name)
        packages.clear_pending_transition(load_id, name)
    storage.complete_load_package(load_id, False)


def delete_loaded_package(pipeline: Any, load_id: str) -> None:
    """Remove a loaded package's folder (``LoadStorage.delete_loaded_package``).

    Why no public API: dlt keeps completed packages until the pipeline's folder is dropped; the provider
    removes a package once its rows are confirmed and recorded, and keeps packages with failed jobs.
    """
    pipeline._get_load_storage().delete_loaded_package(load_id)


@contextlib.contextmanager
def package_writes_observed(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(load_id)`` after dlt records progress of a package being loaded, for the block.

    Wraps ``PackageStorage.save_pending_transition`` (a job's rows committed: written by the job's worker
    thread right after the destination's commit), ``complete_job``, ``fail_job``, ``retry_job`` (a job sent
    back to be started again, on dlt's main thread: what ``callback`` raises there stops the load before the
    job runs again), ``save_load_package_state`` (a function destination's delivered batches, job metrics) and
    ``LoadStorage.commit_schema_update`` (the package's tables created). Why no public API: dlt offers no hook on its load-package journal; the
    progress collector's ``update("Jobs")`` comes only after a job's files moved, not when its rows committed.
    """
    from dlt.common.storages.load_package import PackageStorage
    from dlt.common.storages.load_storage import LoadStorage

    def after(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, load_id: str, *args: Any, **kwargs: Any) -> Any:
            result = original(self, load_id, *args, **kwargs)
            callback(load_id)
            return result

        return wrapper

    targets = [
        (PackageStorage, "save_pending_transition"),
        (PackageStorage, "complete_job"),
        (PackageStorage, "fail_job"),
        (PackageStorage, "retry_job"),
        (PackageStorage, "save_load_package_state"),
        (LoadStorage, "commit_schema_update"),
    ]
    with contextlib.ExitStack() as patches:
        for owner, name in targets:
            patches.enter_context(_patched(owner, name, after(getattr(owner, name))))
        yield


def package_schema_tables(pipeline: Any, load_id: str) -> dict[str, Any]:
    """The tables of the schema a normalized package was written with (``PackageStorage.load_schema``).

    Why no public API: ``LoadPackageInfo.schema_update`` holds only the update already applied at the
    destination; the schema guard must judge a package's tables and columns before anything is applied.
    """
    return dict(_package_storage(pipeline, "normalized").load_schema(load_id).tables)


def function_destination_settings(config: Any) -> dict[str, Any]:
    """The plain, non-secret settings a ``@dlt.destination`` function's configuration adds to dlt's own
    (its name and the function's own config arguments, e.g. an ``api_url``): where the function sends rows.

    Private: dlt's ``is_secret_hint`` and the field list of ``CustomDestinationClientConfiguration`` (dlt's
    own fields -- batch size, file format -- say how rows are delivered, not where). Only str/int/float/bool
    values: anything else has no stable text across processes.
    """
    from dlt.common.configuration.specs.base_configuration import is_secret_hint
    from dlt.destinations.impl.destination.configuration import CustomDestinationClientConfiguration

    own = set(CustomDestinationClientConfiguration.get_resolvable_fields()) - {"destination_name"}
    settings: dict[str, Any] = {}
    for name, hint in type(config).get_resolvable_fields().items():
        value = getattr(config, name, None)
        if name in own or is_secret_hint(hint) or not isinstance(value, (str, int, float, bool)):
            continue
        settings[name] = value
    return settings
