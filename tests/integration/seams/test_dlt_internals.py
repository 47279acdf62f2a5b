"""Contract tests of ``airflow_dlt_provider._dlt_internals``: one (or more) per entry, against the installed dlt.

Each test exercises the entry on real dlt objects (resources, a pipeline, a load package on disk) and fails
with a message naming the entry, so a dlt upgrade that changes an internal we rely on fails here by name.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import dlt
import pytest

from airflow_dlt_provider import _dlt_internals
from airflow_dlt_provider.authoring.names import pipeline_name_problem

# ---------------------------------------------------------------- parse time


@pytest.mark.parametrize(
    "name",
    [
        "shop",
        "shop_2",
        "Grüße-数据",
        "pïpé_日本",
        "with space",
        "a.b",
        "..",
        "a\x01b",
        " leading",
        "a/b",
        "a\\b",
        "a:b",
        "a*b",
        "a?b",
        'a"b',
        "a<b",
        "a|b",
        "a%b",
        "a{b}",
        "CON",
        "nul",
        "COM1",
        "LPT9",
        "trailing ",
        "tab\tname",
        "x" * 80,
    ],
)
def test_file_name_rule_agrees_with_dlt(name):
    from dlt.common.storages.file_storage import FileStorage

    try:
        FileStorage.validate_file_name_component(name)
        dlt_accepts = True
    except ValueError:
        dlt_accepts = False
    ours = pipeline_name_problem(name) is None
    if name == " leading":  # stricter on purpose: a folder name " x" is a trap on every platform
        assert not ours
        return
    assert ours == dlt_accepts, (
        f"_dlt_internals.FILE_NAME_FORBIDDEN_CHARS/RESERVED_FILE_NAMES: dlt changed "
        f"FileStorage.validate_file_name_component ({name!r}: dlt accepts={dlt_accepts}, we accept={ours})"
    )


def _chain_source() -> dlt.sources.DltSource:
    @dlt.resource
    def users():
        yield [{"id": 1}]

    @dlt.transformer(data_from=users)
    def orders(user):
        yield {"user": user["id"]}

    @dlt.transformer(data_from=orders)
    def lines(order):
        yield {"order": order["user"]}

    @dlt.resource
    def alone():
        yield [{"id": 2}]

    @dlt.source
    def shop():
        return users, orders, lines, alone

    return shop()


def test_parent_pipe_names_walks_the_transformer_chain():
    source = _chain_source()
    resources = source.resources
    chains = {name: list(_dlt_internals.parent_pipe_names(resources[name])) for name in resources}
    assert chains == {"users": [], "orders": ["users"], "lines": ["orders", "users"], "alone": []}, (
        f"_dlt_internals.parent_pipe_names: dlt changed DltResource._pipe / Pipe.parent ({chains})"
    )
    # the same edges as dlt's public (quadratic) view of the graph
    public = {(parent, child) for parent, child in source.resources.selected_dag if parent != child}
    ours = {(chains[name][0], name) for name in chains if chains[name]}
    assert public == ours, f"_dlt_internals.parent_pipe_names: edges differ from selected_dag ({public})"


# ---------------------------------------------------------------- incrementals and intervals


def _windowed(allow: bool = True):
    @dlt.resource
    def events(
        at=dlt.sources.incremental(  # noqa: B008 - how dlt declares an incremental
            "at", initial_value=datetime(2024, 1, 1, tzinfo=timezone.utc), allow_external_schedulers=allow
        ),
    ):
        for day in range(1, 6):
            yield {"at": datetime(2024, 1, day, tzinfo=timezone.utc)}

    return events  # not called: as a source returns its resources


def test_incremental_function_default_reads_the_signature():
    default = _dlt_internals.incremental_function_default(_windowed())
    assert default is not None and default.allow_external_schedulers is True, (
        "_dlt_internals.incremental_function_default: dlt changed DltResource._pipe.gen or "
        "IncrementalResourceWrapper.get_incremental_arg"
    )

    @dlt.resource
    def plain():
        yield {"x": 1}

    assert _dlt_internals.incremental_function_default(plain) is None


def test_wrapper_own_external_schedulers_flag_overrides_the_bound_incremental():
    resource = _windowed()
    wrapper = resource.incremental
    assert not isinstance(wrapper, dlt.sources.incremental), "resource.incremental is no longer dlt's wrapper"
    assert _dlt_internals.wrapper_own_external_schedulers(wrapper) is None, (
        "_dlt_internals.wrapper_own_external_schedulers: dlt changed IncrementalResourceWrapper."
        "_allow_external_schedulers"
    )
    wrapper.allow_external_schedulers = False  # public setter: what intervals._own_state_only uses
    assert _dlt_internals.wrapper_own_external_schedulers(wrapper) is False
    interval = (datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 4, tzinfo=timezone.utc))
    with _dlt_internals.time_interval_context(interval):
        rows = list(resource)
    assert len(rows) == 5, "the wrapper's own flag no longer keeps the incremental out of the scheduler"
    _dlt_internals.set_wrapper_own_external_schedulers(wrapper, None)
    assert _dlt_internals.wrapper_own_external_schedulers(wrapper) is None


def test_time_interval_context_gives_incrementals_the_window():
    interval = (datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 4, tzinfo=timezone.utc))
    with _dlt_internals.time_interval_context(interval):
        rows = [row["at"].day for row in _windowed()]
    assert rows == [2, 3], (
        f"_dlt_internals.time_interval_context: dlt changed TimeIntervalContext or how incrementals read it "
        f"(loaded days {rows}, expected [2, 3])"
    )
    with _dlt_internals.time_interval_context(None, allow_external_schedulers=False):
        rows = [row["at"].day for row in _windowed(allow=False)]
    assert rows == [1, 2, 3, 4, 5], f"_dlt_internals.time_interval_context(None): loaded days {rows}"


# ---------------------------------------------------------------- the pipeline and its packages


def _pipeline(tmp_path: Path, name: str = "contract", **kwargs):
    return dlt.pipeline(
        name,
        pipelines_dir=str(tmp_path / "work"),
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="data",
        **kwargs,
    )


@dlt.resource(name="items")
def _items():
    yield [{"id": n, "children": [{"k": n}]} for n in range(5)]


def test_mark_state_restored_skips_the_second_sync(tmp_path, monkeypatch):
    from dlt.pipeline.pipeline import Pipeline

    pipeline = _pipeline(tmp_path)
    assert hasattr(pipeline, "_state_restored"), (
        "_dlt_internals.mark_state_restored: Pipeline._state_restored"
    )
    calls: list[str] = []
    original = Pipeline._sync_destination

    def counting(self, *args, **kwargs):
        calls.append("sync")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_sync_destination", counting)
    pipeline.sync_destination()
    _dlt_internals.mark_state_restored(pipeline)
    pipeline.run(_items())
    assert calls == ["sync"], (
        f"_dlt_internals.mark_state_restored: run() synced again ({calls}); dlt changed _state_restored"
    )
    pipeline.deactivate()


def _normalized_package_with_a_started_job(tmp_path: Path):
    """A real normalized package whose ``items`` job dlt has started (as a worker killed mid-load leaves it)."""
    pipeline = _pipeline(tmp_path, "markers")
    pipeline.extract(_items())
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    package = pipeline.get_load_package_info(load_id)
    job = next(j for j in package.jobs["new_jobs"] if j.job_file_info.table_name == "items")
    # dlt's own move of a job to started_jobs (what its loader does before running the job)
    _dlt_internals.start_job(pipeline, load_id, Path(job.file_path).name)
    started = pipeline.get_load_package_info(load_id).jobs["started_jobs"]
    assert [Path(j.file_path).name for j in started] == [Path(job.file_path).name], (
        "_dlt_internals.start_job: dlt changed PackageStorage.start_job (the job is not in started_jobs)"
    )
    return pipeline, load_id


def test_commit_markers_make_dlts_loader_complete_the_started_job_without_running_it(tmp_path):
    pipeline, load_id = _normalized_package_with_a_started_job(tmp_path)
    started = pipeline.get_load_package_info(load_id).jobs["started_jobs"]
    assert [j.job_file_info.table_name for j in started] == ["items"]
    name = Path(started[0].file_path).name
    assert _dlt_internals.commit_marker(pipeline, load_id, name) is None
    _dlt_internals.write_commit_marker(pipeline, load_id, name)
    assert _dlt_internals.commit_marker(pipeline, load_id, name) == "completed", (
        "_dlt_internals.commit_marker: dlt changed PackageStorage.load_pending_transition"
    )
    pipeline.load()
    jobs = pipeline.get_load_package_info(load_id).jobs
    assert name in [Path(j.file_path).name for j in jobs["completed_jobs"]]
    with pipeline.sql_client() as client:
        children = client.execute_sql("SELECT count(*) FROM items__children")[0][0]
        try:
            items = client.execute_sql("SELECT count(*) FROM items")[0][0]
        except Exception:  # not even created: the job did not run
            items = 0
    assert (items, children) == (0, 5), (
        "_dlt_internals.write_commit_marker: dlt's loader no longer completes a started job with a "
        f"'completed' pending transition without running it (items={items}, children={children})"
    )
    pipeline.deactivate()


def test_job_table_name_parses_dlts_job_ids(tmp_path):
    pipeline = _pipeline(tmp_path, "job_ids")
    pipeline.extract(_items())
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    for job in pipeline.get_load_package_info(load_id).jobs["new_jobs"]:
        # the loader's LoadClientJobFailed holds job_file_info.job_id(); a file name is read too
        for job_id in (job.job_file_info.job_id(), Path(job.file_path).name):
            assert _dlt_internals.job_table_name(job_id) == job.job_file_info.table_name, (
                f"_dlt_internals.job_table_name: dlt changed its job ids / ParsedLoadJobFileName ({job_id})"
            )
    pipeline.deactivate()


@pytest.mark.parametrize("file_format", ["insert_values", "jsonl", "parquet"])  # csv: not on duckdb
def test_job_files_reader_reads_the_first_row_of_files_dlt_writes(tmp_path, file_format):
    """``runtime/job_files.first_row_value`` parses dlt's own job-file layouts (``insert_values``)."""
    from airflow_dlt_provider.runtime.job_files import first_row_value

    pipeline = _pipeline(tmp_path, f"files_{file_format}")
    pipeline.extract(_items(), loader_file_format=file_format)
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    job = next(
        j
        for j in pipeline.get_load_package_info(load_id).jobs["new_jobs"]
        if j.job_file_info.table_name == "items"
    )
    row_id = first_row_value(Path(job.file_path), job.job_file_info.file_format, "_dlt_id")
    pipeline.load()
    with pipeline.sql_client() as client:
        first_ids = {row[0] for row in client.execute_sql("SELECT _dlt_id FROM items")}
    assert row_id in first_ids, (
        f"runtime/job_files.first_row_value: cannot read _dlt_id from dlt's {file_format} job file "
        f"(read {row_id!r})"
    )
    pipeline.deactivate()


@pytest.mark.parametrize("disposition, staging", [("append", False), ("merge", True)])
def test_staging_dataset_for_points_at_the_dataset_dlt_loads_the_job_into(tmp_path, disposition, staging):
    pipeline = _pipeline(tmp_path, f"staging_{disposition}")
    pipeline.run(_items(), write_disposition=disposition, primary_key="id")
    schema_name = pipeline.default_schema_name
    with pipeline.destination_client(schema_name) as client:
        final = client.sql_client.dataset_name
        with _dlt_internals.staging_dataset_for(client, "items"):
            inside = client.sql_client.dataset_name
    assert (inside != final) == staging and (
        not staging or inside == client.sql_client.staging_dataset_name
    ), (
        "_dlt_internals.staging_dataset_for: dlt changed should_load_data_to_staging_dataset or "
        f"with_staging_dataset ({disposition}: {inside!r} vs {final!r})"
    )
    pipeline.deactivate()


def test_trace_file_name_is_the_file_dlt_writes(tmp_path):
    pipeline = _pipeline(tmp_path, "traced")
    pipeline.run(_items())
    name = _dlt_internals.trace_file_name()
    assert (Path(pipeline.working_dir) / name).is_file(), (
        f"_dlt_internals.trace_file_name: dlt no longer writes its trace to {name!r} in the working directory"
    )
    pipeline.deactivate()


def test_complete_from_defaults_runs_dlts_on_partial_hook(monkeypatch):
    from dlt.sources.credentials import GcpServiceAccountCredentials

    called: list[str] = []
    monkeypatch.setattr(GcpServiceAccountCredentials, "on_partial", lambda self: called.append("on_partial"))
    credentials = GcpServiceAccountCredentials()
    _dlt_internals.complete_from_defaults(credentials)
    assert called == ["on_partial"], (
        "_dlt_internals.complete_from_defaults: dlt changed BaseConfiguration.call_method_in_mro / on_partial"
    )


# ---------------------------------------------------------------- logging, progress, configuration


def test_dlt_logger_name_is_the_logger_dlt_writes_to(tmp_path):
    from dlt.common import logger

    _pipeline(tmp_path, "logging").deactivate()  # initialises dlt's logging
    name = _dlt_internals.dlt_logger_name()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    logging.getLogger(name).addHandler(handler)
    try:
        logger.warning("contract")
    finally:
        logging.getLogger(name).removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["contract"], (
        f"_dlt_internals.dlt_logger_name: dlt no longer logs through dlt.common.logger.LOGGER ({name!r})"
    )


def test_progress_collector_records_rows_when_normalize_ends(tmp_path):
    """The public collector hook ``on_end_trace_step`` (``dlt.progress.log`` subclass) sees the normalize step."""
    from airflow_dlt_provider.runtime import ledger
    from airflow_dlt_provider.runtime.pipeline_run import progress_collector

    pipeline = _pipeline(tmp_path, "progress", progress=progress_collector(30.0, rows_dir=tmp_path))
    pipeline.extract(_items())
    pipeline.normalize()
    recorded = {k: v.get("rows", {}) for k, v in ledger.read_ledger(tmp_path).items()}
    assert [rows.get("items") for rows in recorded.values()] == [5], (
        f"SamplingLogCollector.on_end_trace_step: dlt no longer calls it after normalize ({recorded})"
    )
    pipeline.deactivate()


def test_airflow_secrets_provider_patch_routes_dlts_lookups(monkeypatch):
    from dlt.common.configuration.specs import config_providers_context

    names = _dlt_internals.airflow_secrets_toml_key_names("shop")
    assert names == ["dlt_secrets_toml", "shop.dlt_secrets_toml"], (
        f"_dlt_internals.airflow_secrets_toml_key_names: dlt changed the Variable names ({names})"
    )
    provider_class = _dlt_internals.airflow_secrets_provider_class()
    looked_up: list[str] = []

    def get_value(self, key, hint, pipeline_name, *sections):
        return inherited(self, key, hint, pipeline_name, *sections)

    def look_vault(self, full_key, hint):
        looked_up.append(full_key)
        return 'answer = "from the vault"' if full_key.endswith("dlt_secrets_toml") else None

    def make_providers(settings):
        return ["made"]

    inherited = provider_class.get_value
    original_factory = config_providers_context._airflow_providers
    with _dlt_internals.airflow_secrets_provider_patched(get_value, look_vault, make_providers):
        provider = provider_class(only_secrets=False, only_toml_fragments=False)
        value, _ = provider.get_value("answer", str, None)
        assert config_providers_context._airflow_providers(None) == ["made"], (
            "_dlt_internals.airflow_secrets_provider_patched: dlt changed config_providers_context._airflow_providers"
        )
    assert value == "from the vault" and "dlt_secrets_toml" in looked_up, (
        f"_dlt_internals.airflow_secrets_provider_patched: dlt's provider no longer reads through _look_vault "
        f"(value={value!r}, looked up {looked_up})"
    )
    assert (
        provider_class.get_value is inherited
        and config_providers_context._airflow_providers is original_factory
    )


def test_resume_seams_read_and_complete_a_normalized_package(tmp_path):
    """schema_update_applied, package_progress, package_schema_tables, complete_package_locally."""
    import dlt

    pipeline = dlt.pipeline(
        "seams", pipelines_dir=str(tmp_path), destination=dlt.destinations.duckdb(str(tmp_path / "s.duckdb"))
    )
    pipeline.extract(_items())
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    assert not _dlt_internals.schema_update_applied(pipeline, load_id), "_dlt_internals.schema_update_applied"
    progress = _dlt_internals.package_progress(pipeline, load_id)
    assert progress["completed"] == [] and progress["applied_schema_update"] is None, (
        f"_dlt_internals.package_progress: {progress}"
    )
    assert "items" in _dlt_internals.package_schema_tables(pipeline, load_id), (
        "_dlt_internals.package_schema_tables"
    )
    _dlt_internals.complete_package_locally(pipeline, load_id)
    assert list(pipeline.list_completed_load_packages()) == [load_id], (
        "_dlt_internals.complete_package_locally"
    )
    _dlt_internals.delete_loaded_package(pipeline, load_id)
    assert not list(pipeline.list_completed_load_packages()), "_dlt_internals.delete_loaded_package"
    pipeline.deactivate()


def test_function_destination_settings_keep_where_rows_go_and_drop_secrets(monkeypatch):
    @dlt.destination(batch_size=10, name="contract_sink")
    def contract_sink(items, table, api_url: str = dlt.config.value, api_key: str = dlt.secrets.value):
        pass

    monkeypatch.setenv("DESTINATION__CONTRACT_SINK__API_URL", "https://example.test/in")
    monkeypatch.setenv("DESTINATION__CONTRACT_SINK__API_KEY", "s3cr3t-value")
    factory = contract_sink()
    config = factory.configuration(factory.spec(), accept_partial=True)

    settings = _dlt_internals.function_destination_settings(config)

    assert settings == {"destination_name": "contract_sink", "api_url": "https://example.test/in"}, (
        "_dlt_internals.function_destination_settings: dlt's configuration fields changed"
    )


def test_tables_reset_by_refresh_are_the_tables_dlt_drops_when_it_initialises_the_package(tmp_path):
    @dlt.source(name="refreshed")
    def refreshed():
        @dlt.resource(name="alpha")
        def alpha():
            yield [{"id": 1}]

        @dlt.resource(name="beta")
        def beta():
            yield [{"id": 2}]

        return alpha, beta

    pipeline = dlt.pipeline("refresh_contract", destination="duckdb", pipelines_dir=str(tmp_path / "p"))
    pipeline.run(refreshed(), dataset_name="raw", credentials=str(tmp_path / "r.duckdb"))
    pipeline.extract(refreshed().with_resources("alpha"), refresh="drop_resources")
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()

    assert _dlt_internals.tables_reset_by_refresh(pipeline, load_id) == {"alpha"}, (
        "_dlt_internals.tables_reset_by_refresh: dlt's package state no longer names the refreshed tables"
    )


def test_apply_package_progress_knows_a_job_under_a_later_retry_name(tmp_path):
    """dlt renames a job it retries (``<table>.<file id>.<retry count>.<format>``): a progress record written
    after a retry names the job by its new name; the archive's older copy holds the old one."""
    from dlt.common.storages.load_package import ParsedLoadJobFileName

    pipeline = dlt.pipeline("retry_names", destination="duckdb", pipelines_dir=str(tmp_path / "p"))
    pipeline.extract([{"id": 1}], table_name="items")
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    storage = pipeline._get_load_storage().normalized_packages
    (job_path,) = [p for p in storage.list_new_jobs(load_id) if "items" in p]
    name = Path(job_path).name
    parsed = ParsedLoadJobFileName.parse(name)
    retried = f"{parsed.table_name}.{parsed.file_id}.{parsed.retry_count + 1}.{parsed.file_format}"

    marked = _dlt_internals.apply_package_progress(pipeline, load_id, {"completed": [retried]})

    assert marked == [name], "_dlt_internals.apply_package_progress: a retried job's name was not matched"
