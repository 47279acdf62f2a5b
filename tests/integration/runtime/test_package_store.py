"""Pending load packages belong to the pipeline, and ``[dlt] package_store`` carries them between workers.

Each test runs one DAG twice with ``dag.test()`` (two DAG runs): run 1 fails while loading (a sink that
refuses rows while a flag file exists) with no retries left; run 2 is a new DAG run of the same DAG. A
``file://`` store in ``tmp_path`` stands in for ``gs://``/``s3://``; two working dirs stand in for two workers.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import pendulum
import pytest
from support.dag_runs import write_dag

from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.runtime import package_store, resume, store_signing
from airflow_dlt_provider.runtime.workdir import PIPELINES_FOLDER, path_part
from airflow_dlt_provider.testing.dagrun import load_dag, run_dag

# Every extraction yields 20 rows whose ids say which extraction made them (0..19, then 100..119, ...).
PIPELINE = """
import json
import os
import shutil
import dlt

WORK = {work!r}
STORE = {store!r}

@dlt.resource(name="items", write_disposition="append")
def items():
    path = WORK + "/extractions"
    done = len(open(path).read()) if os.path.exists(path) else 0
    with open(path, "a") as handle:
        handle.write("x")
    yield [{{"id": done * 100 + n}} for n in range(20)]

@dlt.destination(batch_size=10, loader_file_format="typed-jsonl", name="sink")
def sink(rows, table):
    if os.path.exists(WORK + "/fail"):
        if os.path.exists(STORE):  # what the store holds while the load runs (a worker killed now leaves it)
            shutil.copytree(STORE, WORK + "/store_during_load", dirs_exist_ok=True)
        raise ConnectionRefusedError("the sink is not reachable")
    with open(WORK + "/sink.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps({{"table": table["name"], "id": row["id"]}}) + "\\n")
"""

BODY = """DltRunOperator(task_id="load", source=items, pipeline_name={pipeline!r}, destination=sink, retries=0{pool})"""

RUN_1 = pendulum.datetime(2026, 2, 1, tz="UTC")
RUN_2 = pendulum.datetime(2026, 2, 2, tz="UTC")


class Scenario:
    """One DAG (a unique id and pipeline), its files and its two runs."""

    def __init__(self, dags_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, pool: str = ""):
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.store = tmp_path / "store"
        self.monkeypatch = monkeypatch
        self.dag_id = f"store_{uuid.uuid4().hex[:8]}"
        self.pipeline = f"stored_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # fail the attempt on the first job failure
        monkeypatch.delenv("AIRFLOW__DLT__PACKAGE_STORE", raising=False)
        self.path = write_dag(
            dags_folder,
            self.dag_id,
            BODY.format(pipeline=self.pipeline, pool=pool),
            imports=PIPELINE.format(work=str(self.work), store=str(self.store)),
        )

    def use_store(self) -> None:
        self.monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", f"file://{self.store}")

    def on_worker(self, folder: Path) -> None:
        self.monkeypatch.setenv("AIRFLOW__DLT__WORKING_DIR", str(folder))

    def run(self, logical_date, *, sink_fails: bool):
        flag = self.work / "fail"
        flag.touch() if sink_fails else flag.unlink(missing_ok=True)
        return run_dag(load_dag(self.path, self.dag_id), logical_date=logical_date)

    def extractions(self) -> int:
        path = self.work / "extractions"
        return len(path.read_text()) if path.exists() else 0

    def sink_ids(self) -> list[int]:
        path = self.work / "sink.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return sorted(row["id"] for row in rows if row["table"] == "items")

    def store_entry(self) -> Path:
        """The store's entry of the pipeline for its one binding (destination and dataset)."""
        root = self.store / path_part(self.pipeline)
        entries = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("b")]
        assert len(entries) == 1, entries
        return entries[0]

    def local_folder(self, worker: Path) -> Path:
        """The pipeline's folder on a worker (one binding)."""
        (folder,) = (worker / PIPELINES_FOLDER / path_part(self.pipeline)).iterdir()
        return folder

    def archived_names(self) -> list[str]:
        with tarfile.open(self.store_entry() / package_store.ARCHIVE_NAME) as tar:
            return tar.getnames()

    def key(self, result) -> str:
        return f"{self.dag_id}/load/{result.run_id}/-1"

    def cleanup(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture
def scenario(dags_folder, tmp_path, monkeypatch):
    made: list[Scenario] = []

    def make(**kwargs) -> Scenario:
        made.append(Scenario(dags_folder, tmp_path, monkeypatch, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.cleanup()


FIRST = list(range(20))  # rows of the first extraction
SECOND = list(range(100, 120))


def _fail_run_1(s: Scenario, caplog) -> object:
    first = s.run(RUN_1, sink_fails=True)
    assert first.task_states == {"load": "failed"}
    assert s.extractions() == 1 and s.sink_ids() == []
    return first


def test_next_run_on_the_same_worker_finishes_the_pending_package_without_a_store(scenario, tmp_path, caplog):
    s = scenario()
    s.on_worker(tmp_path / "worker_a")
    first = _fail_run_1(s, caplog)
    caplog.clear()

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.extractions() == 2  # run 1's package was loaded without calling the source again
    assert s.sink_ids() == FIRST + SECOND  # every row exactly once
    assert second.xcom("load")["rows"] == {"items": 20}
    assert f"left by {s.key(first)}: loading them before this task extracts" in caplog.text


def test_next_run_finishes_the_pending_package_of_a_failed_run_first(scenario, tmp_path, caplog):
    s = scenario()
    s.use_store()
    s.on_worker(tmp_path / "worker_a")
    first = _fail_run_1(s, caplog)
    assert s.archived_names()  # the failed run's pipeline folder is in the store ...
    assert f"{s.pipeline}/load" in "\n".join(s.archived_names())
    assert "trace.pickle" not in "\n".join(s.archived_names())  # ... without dlt's trace
    assert not (
        tmp_path / "worker_a" / PIPELINES_FOLDER / s.pipeline
    ).exists()  # the store holds the only copy
    assert "package store: kept the pipeline folder" in caplog.text
    caplog.clear()

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.extractions() == 2  # run 1's package was loaded without calling the source again
    assert s.sink_ids() == FIRST + SECOND  # every row exactly once
    assert second.xcom("load")["rows"] == {"items": 20}  # run 2 reports its own rows
    log = caplog.text
    assert f"left by {s.key(first)}: loading them before this task extracts" in log
    assert "package store: restored the pipeline folder" in log
    # nothing left to load: the entry holds only the pipeline's state (a function destination cannot give it
    # back); run 1's done record (its package was loaded by run 2) stays, so a retry of run 1 reports it
    # (confirmed at the destination) instead of extracting again
    root = s.store / path_part(s.pipeline)
    assert sorted(p.name for p in root.iterdir()) == [
        ".holder",
        s.store_entry().name,
        package_store.DONE_FOLDER,
    ]
    assert not [name for name in s.archived_names() if "/load/" in name and name.count("/") > 3]
    assert len(list((root / package_store.DONE_FOLDER).iterdir())) == 2


@pytest.mark.parametrize("with_store", [True, False], ids=["store", "no_store"])
def test_two_workers_share_pending_packages_only_through_the_store(scenario, tmp_path, caplog, with_store):
    s = scenario()
    if with_store:
        s.use_store()
    worker_a, worker_b = tmp_path / "worker_a", tmp_path / "worker_b"
    s.on_worker(worker_a)
    _fail_run_1(s, caplog)
    if not with_store:  # the failure report names the folder that holds the package
        kept_on_a = s.local_folder(worker_a)
        assert f"kept {kept_on_a} with 1 pending load package(s)" in caplog.text
    s.on_worker(worker_b)

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.extractions() == 2
    if with_store:
        assert s.sink_ids() == FIRST + SECOND
        return
    # documented: without a store worker B cannot see worker A's folder; nothing is lost, it stays there
    assert s.sink_ids() == SECOND
    assert len(resume.packages_left_in(kept_on_a, s.pipeline)) == 1
    assert not s.store.exists()


class _Payload:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {_Payload.marker}",))


def test_a_forged_store_entry_runs_no_code_and_the_task_loads_its_own_rows(scenario, tmp_path, caplog):
    """Whoever can write to the store but lacks the workers' key: a forged archive (a pickle where dlt reads
    its trace, a ``..`` member, a symlink, a ledger claiming the packages) and forged progress (a forged done
    record: test_progress_and_done_records_count_only_with_the_workers_mac). Nothing of it is used: the next
    run extracts and loads its own rows."""
    import io
    import pickle

    s = scenario()
    s.use_store()
    s.on_worker(tmp_path / "worker_a")
    _fail_run_1(s, caplog)
    entry = s.store_entry()
    marker = tmp_path / "pwned"
    _Payload.marker = str(marker)
    with tarfile.open(entry / package_store.ARCHIVE_NAME, "w") as tar:
        for name, data, kind in (
            (f"{s.pipeline}/trace.pickle", pickle.dumps(_Payload()), tarfile.REGTYPE),
            (f"{s.pipeline}/load/../../../../escaped", b"x", tarfile.REGTYPE),
            (f"{s.pipeline}/load/link", b"", tarfile.SYMTYPE),
            (
                "airflow_dlt_ledger.json",
                json.dumps({"1.1": {"owner": "x", "judged": True}}).encode(),
                tarfile.REGTYPE,
            ),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.size, info.linkname = (
                kind,
                len(data),
                "/etc/passwd" if kind == tarfile.SYMTYPE else "",
            )
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    (entry / package_store.PROGRESS_FOLDER).mkdir(exist_ok=True)
    for progress in (entry / package_store.PROGRESS_FOLDER).iterdir():
        progress.write_text(json.dumps({"completed_jobs": ["*"], "state": {"batches": 99}}))
    s.on_worker(tmp_path / "worker_b")
    caplog.clear()

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert not marker.exists()
    assert not list(tmp_path.rglob("escaped"))
    assert s.extractions() == 2 and s.sink_ids() == SECOND  # run 1's pending rows went with the real archive
    assert "extracts its own rows instead" in caplog.text


def test_without_the_pipeline_pool_pending_packages_stay_private_to_the_task(scenario, tmp_path, caplog):
    s = scenario(pool=", pool=None")
    s.use_store()
    worker = tmp_path / "worker_a"
    s.on_worker(worker)
    first = _fail_run_1(s, caplog)
    assert f"its pending load packages stay private to this task instance in {worker}" in caplog.text
    private = worker / s.dag_id / "load" / path_part(first.run_id)
    assert len(resume.packages_left_in(private, s.pipeline)) == 1

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.sink_ids() == SECOND  # run 2 does not touch run 1's package: run 1's retry or clear loads it
    assert len(resume.packages_left_in(private, s.pipeline)) == 1
    assert not s.store.exists()  # the store is only for tasks in the pipeline's pool
    assert not (worker / PIPELINES_FOLDER).exists()


def test_an_interrupted_upload_leaves_the_previous_complete_copy(scenario, tmp_path, caplog):
    s = scenario()
    s.use_store()
    s.on_worker(tmp_path / "worker_a")
    _fail_run_1(s, caplog)
    complete = (s.store_entry() / package_store.ARCHIVE_NAME).read_bytes()
    partial = s.store_entry() / f"{package_store.ARCHIVE_NAME}.0badc0de{package_store.TMP_SUFFIX}"
    partial.write_bytes(complete[: len(complete) // 3])  # a worker killed while uploading

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.sink_ids() == FIRST + SECOND
    assert not partial.exists()  # the next complete upload removed the leftover
    assert not list(s.store.rglob(f"*{package_store.TMP_SUFFIX}"))


def test_a_worker_killed_during_the_load_leaves_its_package_in_the_store(scenario, tmp_path, caplog):
    s = scenario()
    s.use_store()
    # the killed worker's lease (held during the load) is taken over once this old, not after 120 s
    s.monkeypatch.setenv("AIRFLOW__DLT__HOLDER_LEASE_SECONDS", "3")
    s.on_worker(tmp_path / "worker_a")
    _fail_run_1(s, caplog)
    during_load = s.work / "store_during_load"
    assert list(
        (during_load / path_part(s.pipeline)).glob(f"*/{package_store.ARCHIVE_NAME}")
    )  # copied before loading
    # a killed worker uploads nothing after the failure: the store holds what it held during the load
    shutil.rmtree(s.store)
    shutil.copytree(during_load, s.store)
    s.on_worker(tmp_path / "worker_b")

    second = s.run(RUN_2, sink_fails=False)

    assert second.task_states == {"load": "success"}
    assert s.extractions() == 2
    assert s.sink_ids() == FIRST + SECOND


INCREMENTAL_SINK = """
import dlt, json, os
WORK = {work!r}

@dlt.resource(name="events", write_disposition="append")
def events(cursor=dlt.sources.incremental("id", initial_value=0)):
    path = WORK + "/n"
    n = (int(open(path).read()) if os.path.exists(path) else 0) + 5
    open(path, "w").write(str(n))
    yield [{{"id": i}} for i in range(1, n + 1)]  # everything each time: dlt's cursor filters

@dlt.destination(batch_size=10, loader_file_format="typed-jsonl", name="inc_sink")
def inc_sink(rows, table):
    with open(WORK + "/sink.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps({{"table": table["name"], "id": row["id"]}}) + "\\n")
"""


@pytest.mark.parametrize("with_store", [False, True], ids=["one_worker", "store_two_workers"])
def test_a_function_destination_keeps_its_incremental_cursor_between_successful_runs(
    dags_folder, tmp_path, monkeypatch, with_store
):
    """dlt restores state from a SQL destination, never from a function: the pipeline's state stays in its
    folder (and, with a store, in the store) after a success, so each run delivers only the new rows."""
    work = tmp_path / "work"
    work.mkdir()
    dag_id, pipeline = f"inc_{uuid.uuid4().hex[:8]}", f"inc_{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("AIRFLOW__DLT__PACKAGE_STORE", raising=False)
    if with_store:
        monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", f"file://{tmp_path / 'store'}")
    body = f"DltRunOperator(task_id='load', source=events, pipeline_name={pipeline!r}, destination=inc_sink)"
    path = write_dag(dags_folder, dag_id, body, imports=INCREMENTAL_SINK.format(work=str(work)))
    try:
        for day in (1, 2, 3):
            worker = "worker_b" if with_store and day % 2 == 0 else "worker_a"
            monkeypatch.setenv("AIRFLOW__DLT__WORKING_DIR", str(tmp_path / worker))
            result = run_dag(load_dag(path, dag_id), logical_date=pendulum.datetime(2026, 3, day, tz="UTC"))
            assert result.task_states == {"load": "success"}
            assert result.xcom("load")["rows"] == {"events": 5}
        ids = [json.loads(line)["id"] for line in (work / "sink.jsonl").read_text().splitlines()]
        assert sorted(ids) == list(range(1, 16))
    finally:
        path.unlink()


# ---------------------------------------------------------------- the store on its own


def test_upload_replaces_the_previous_copy_atomically_and_download_restores_it(tmp_path):
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    local = tmp_path / "local"
    (local / "p").mkdir(parents=True)
    (local / "p" / "state.json").write_text("1")
    (local / "p" / "trace.pickle").write_text("secret text")
    store.upload("p", "bkey", local)
    (local / "p" / "state.json").write_text("2")
    store.upload("p", "bkey", local)

    restored = tmp_path / "restored"
    assert store.download("p", "bkey", restored, "p")
    assert (restored / "p" / "state.json").read_text() == "2"
    assert not (restored / "p" / "trace.pickle").exists()
    assert oct((restored / "p" / "state.json").stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in (tmp_path / "store" / "p" / "bkey").iterdir()] == [package_store.ARCHIVE_NAME]
    store.remove("p", "bkey")
    assert not store.download("p", "bkey", tmp_path / "again", "p")


def test_the_archive_holds_only_the_layout_and_masks_failed_job_texts(tmp_path):
    from airflow_dlt_provider import _compat

    secret = "S3cr3t-T0ken-4711-archive"
    _compat.mask_secret(secret)
    local = tmp_path / "local"
    failed = local / "p" / "load" / "normalized" / "1700000000.1" / "failed_jobs"
    failed.mkdir(parents=True)
    (failed / "items.abc.0.jsonl.exception").write_text(f"could not connect: token={secret}")
    (local / "p" / ".exceptions").mkdir()
    (local / "p" / ".exceptions" / "x.exception").write_text(secret)
    (local / "p" / "trace.pickle").write_bytes(b"x")
    (local / "stray.txt").write_text(secret)
    (local / "p" / "state.json").symlink_to(tmp_path / "elsewhere.json")
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")

    store.upload("p", "bkey", local)

    archive = (tmp_path / "store" / "p" / "bkey" / package_store.ARCHIVE_NAME).read_bytes()
    assert secret.encode() not in archive
    restored = tmp_path / "restored"
    assert store.download("p", "bkey", restored, "p")
    names = sorted(p.relative_to(restored).as_posix() for p in restored.rglob("*") if p.is_file())
    assert names == ["p/load/normalized/1700000000.1/failed_jobs/items.abc.0.jsonl.exception"]
    assert "could not connect: token=***" in (restored / names[0]).read_text()


def test_pipeline_names_and_binding_keys_stay_inside_the_store(tmp_path):
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    local = tmp_path / "local"
    local.mkdir()
    (local / "f").write_text("x")
    store.upload("..", "..", local)
    assert all(p.is_relative_to(tmp_path / "store") for p in (tmp_path / "store").rglob("*"))
    assert (tmp_path / "store" / path_part("..") / path_part("..") / package_store.ARCHIVE_NAME).exists()


def _forged_archive(path: Path, sign_for: tuple[str, str] | None) -> None:
    """A forged archive: a pickle where dlt reads its trace, ``..`` and absolute names, links, other files;
    signed with the workers' key when ``sign_for`` names its (pipeline, binding), as if the key had leaked."""
    import io

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        writer = (
            store_signing.SigningWriter(handle, json.dumps(["archive", *sign_for])) if sign_for else handle
        )
        with tarfile.open(fileobj=writer, mode="w|") as tar:

            def add(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
                info = tarfile.TarInfo(name)
                info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
                tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

            add("p/state.json", b"{}")
            add("p/trace.pickle", b"cos\nsystem\n(S'id'\ntR.")
            add("p/../../escaped", b"x")
            add("/abs", b"x")
            add("p/load/link", kind=tarfile.SYMTYPE, link="/etc/passwd")
            add("p/schemas/hard", kind=tarfile.LNKTYPE, link="p/state.json")
            add("run.sh", b"#!/bin/sh")
            add("airflow_dlt_ledger.json", b"{}")
            add("airflow_dlt_extracting.json", b"{}")  # who was extracting: travels with the packages
        if sign_for:
            writer.finish()


def test_an_archive_the_workers_did_not_sign_is_never_unpacked(tmp_path, caplog):
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    local = tmp_path / "local"
    (local / "p").mkdir(parents=True)
    (local / "p" / "state.json").write_text("mine")
    for name, sign_for in (("unsigned", None), ("moved from another entry", ("p", "other-binding"))):
        _forged_archive(tmp_path / "store" / "p" / "bkey" / package_store.ARCHIVE_NAME, sign_for)
        caplog.clear()

        assert not store.download("p", "bkey", local, "p"), name

        assert sorted(str(p.relative_to(local)) for p in local.rglob("*")) == ["p", "p/state.json"], name
        assert (local / "p" / "state.json").read_text() == "mine"
        assert not list(tmp_path.glob("*.download")) and not list(tmp_path.glob(".*.download"))
        assert "extracts its own rows" in caplog.text, name


def test_a_signed_archive_is_still_unpacked_only_as_the_pipeline_layout(tmp_path):
    """Defense in depth, should the key leak: the unpacking rules hold for a validly signed archive too."""
    _forged_archive(tmp_path / "store" / "p" / "bkey" / package_store.ARCHIVE_NAME, ("p", "bkey"))
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    local = tmp_path / "local"

    assert store.download("p", "bkey", local, "p")

    found = sorted(str(p.relative_to(local)) for p in local.rglob("*"))
    assert found == ["airflow_dlt_extracting.json", "airflow_dlt_ledger.json", "p", "p/state.json"]
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("abs"))


def test_progress_and_done_records_count_only_with_the_workers_mac(tmp_path, caplog):
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    store.put_progress("p", "bkey", "1700000000.1", {"completed": ["a"]})
    store.put_done("p", "0" * 32 + ".json", {"task": "t"})
    assert store.read_progress("p", "bkey") == {"1700000000.1": {"completed": ["a"]}}
    assert store.get_done("p", "0" * 32 + ".json") == {"task": "t"}

    progress = tmp_path / "store" / "p" / "bkey" / package_store.PROGRESS_FOLDER
    (progress / "1700000000.2.json").write_text(json.dumps({"completed": ["forged"]}))  # unsigned
    signed = json.loads((progress / "1700000000.1.json").read_text())
    (progress / "1700000000.3.json").write_text(json.dumps(signed))  # moved to another load id
    signed["record"]["completed"] = ["b"]
    (progress / "1700000000.1.json").write_text(json.dumps(signed))  # edited
    done = tmp_path / "store" / "p" / package_store.DONE_FOLDER
    (done / ("1" * 32 + ".json")).write_text((done / ("0" * 32 + ".json")).read_text())  # another task's

    assert store.read_progress("p", "bkey") == {}
    assert store.get_done("p", "1" * 32 + ".json") is None
    assert caplog.text.count("ignored the record") == 4


@pytest.mark.parametrize("linked", ["done", "progress", "entry", "pipeline"])
def test_a_symlinked_folder_inside_the_store_is_never_followed(tmp_path, linked):
    """Whoever can write to a ``file://`` store plants a link to a worker's folder where the provider writes
    and removes files: it is refused, and nothing in the link's target is touched."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "important_dag.py").write_text("keep me")
    (victim / "1700000000.1.json").write_text("{}")  # a name the provider's own clean-up would match
    (victim / ("0" * 32 + ".json")).write_text("{}")
    store = package_store.PackageStore(f"file://{tmp_path / 'store'}")
    root = tmp_path / "store" / "p"
    link = {
        "done": root / package_store.DONE_FOLDER,
        "progress": root / "bkey" / package_store.PROGRESS_FOLDER,
        "entry": root / "bkey",
        "pipeline": root,
    }[linked]
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim, target_is_directory=True)
    local = tmp_path / "local"
    (local / "p").mkdir(parents=True)
    (local / "p" / "state.json").write_text("{}")

    operations = {
        "done": [
            lambda: store.put_done("p", "1" * 32 + ".json", {"task": "t"}),
            lambda: store.expire_done("p", 0),
        ],
        "progress": [
            lambda: store.put_progress("p", "bkey", "1700000000.2", {}),
            lambda: store.read_progress("p", "bkey"),
            lambda: store.remove("p", "bkey"),
        ],
        "entry": [lambda: store.upload("p", "bkey", local), lambda: store.remove("p", "bkey")],
        "pipeline": [lambda: store.upload("p", "bkey", local), lambda: store.expire_done("p", 0)],
    }[linked]
    for operation in operations:
        with pytest.raises(package_store.StoreLinkError, match="symbolic link"):
            operation()

    assert sorted(p.name for p in victim.iterdir()) == [
        "0" * 32 + ".json",
        "1700000000.1.json",
        "important_dag.py",
    ]


def test_a_store_without_any_key_is_refused_with_the_setting_to_set(monkeypatch):
    for option in ("DLT__PACKAGE_STORE_KEY", "CORE__FERNET_KEY", "API__SECRET_KEY", "WEBSERVER__SECRET_KEY"):
        monkeypatch.setenv(f"AIRFLOW__{option}", "")
    with pytest.raises(InvalidArgumentError, match="package_store_key"):
        store_signing.signing_keys()


def test_the_first_key_signs_and_every_key_of_the_list_is_accepted(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "old-secret")
    signed = store_signing.sign_record("ctx", {"a": 1})
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "new-secret, old-secret")
    assert store_signing.open_record("ctx", signed) == {"a": 1}
    assert store_signing.sign_record("ctx", {"a": 1})["mac"] != signed["mac"]
    assert "old-secret" not in json.dumps(signed)
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_KEY", "new-secret")
    with pytest.raises(store_signing.UnsignedRecordError):
        store_signing.open_record("ctx", signed)


def test_configured_store(monkeypatch):
    monkeypatch.delenv("AIRFLOW__DLT__PACKAGE_STORE", raising=False)
    assert package_store.configured_store() is None
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", "s3://bucket/prefix")
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE_CONN_ID", "aws_store")
    assert package_store.configured_store() == package_store.PackageStore("s3://bucket/prefix", "aws_store")
    monkeypatch.setenv("AIRFLOW__DLT__PACKAGE_STORE", "/mnt/shared/dlt")
    with pytest.raises(InvalidArgumentError, match="not an fsspec URL; accepted: a URL with a scheme"):
        package_store.configured_store()


def test_store_urls_in_logs_carry_no_credentials():
    assert package_store.display_url("s3://key:secret@bucket/prefix?token=abc") == "s3://bucket/prefix"
