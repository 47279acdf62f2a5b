"""Which errors Airflow retries and which fail at once (real dlt and driver exception types)."""

from __future__ import annotations

import types

import psycopg2
import pytest
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.exceptions import SignalReceivedException
from dlt.common.schema.exceptions import DataValidationError
from dlt.destinations.exceptions import DatabaseTransientException
from dlt.load.exceptions import LoadClientJobRetry, LoadClientJobTerminalRetry
from dlt.pipeline.exceptions import PipelineStepFailed

from airflow_dlt_provider import _compat
from airflow_dlt_provider.exceptions import ConnectionMappingError, LoadFailedError
from airflow_dlt_provider.runtime.failures import classified, terminal_reason

_PIPELINE = types.SimpleNamespace(has_pending_data=True, pipeline_name="p")


def _step_failed(exception: BaseException, step: str = "load") -> PipelineStepFailed:
    """What ``pipeline.run`` raises: the step's exception wrapped by dlt (and chained, as dlt does)."""
    try:
        raise PipelineStepFailed(_PIPELINE, step, "1234.5", exception) from exception  # type: ignore[arg-type]
    except PipelineStepFailed as error:
        return error


def _wrapped(outer: Exception, inner: BaseException) -> Exception:
    try:
        raise outer from inner
    except Exception as error:
        return error


def _contract_violation() -> DataValidationError:
    return DataValidationError("s", "items", "price", "columns", "freeze", {}, {"columns": "freeze"})


@pytest.mark.parametrize(
    "error",
    [
        _step_failed(LoadClientJobRetry("1", "items.abc.jsonl", 5, 5, "connection reset", ConnectionError())),
        # a provider error around a transient dlt failure stays retryable
        _wrapped(
            LoadFailedError("load job failed"),
            _step_failed(LoadClientJobRetry("1", "items.abc.jsonl", 5, 5, "timeout", TimeoutError())),
        ),
        _step_failed(
            DatabaseTransientException(psycopg2.OperationalError("could not connect: Connection refused"))
        ),
        ConnectionError("network is unreachable"),
        _step_failed(SignalReceivedException(15)),
    ],
    ids=["job-retries-exhausted", "wrapped-transient", "connection-refused", "network", "signal"],
)
def test_transient_errors_are_left_to_airflow_retries(error):
    assert terminal_reason(error) is None


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            _step_failed(LoadClientJobTerminalRetry("1", "items.abc.jsonl", "value too long", ValueError())),
            "terminal error",
        ),
        (_step_failed(_contract_violation(), step="extract"), "schema contract"),
        (
            _step_failed(
                DatabaseTransientException(
                    psycopg2.OperationalError('FATAL:  password authentication failed for user "loader"')
                )
            ),
            "refused the credentials",
        ),
        (
            _step_failed(ConfigurationValueError("credentials.port must be an integer"), step="extract"),
            "terminal error",
        ),
        (
            ConnectionMappingError("connection 'wh' of type 'http' has no destination mapping"),
            "stopped the run",
        ),
    ],
    ids=["terminal-job", "contract", "bad-password", "missing-config", "provider-error"],
)
def test_terminal_errors_are_named(error, reason):
    assert reason in (terminal_reason(error) or "")


def test_task_timeout_is_retried():
    class TaskTimeout(BaseException):  # Airflow's AirflowTaskTimeout is a BaseException
        pass

    assert terminal_reason(TaskTimeout()) is None


def test_classified_turns_terminal_errors_into_airflow_fail_exception(tmp_path, caplog):
    with pytest.raises(_compat.airflow_fail_exception()) as raised, classified(tmp_path, "pipe"):
        raise _step_failed(_contract_violation(), step="extract")
    assert "schema contract" in str(raised.value)
    assert "not retried automatically" in caplog.text

    with pytest.raises(ConnectionError), classified(tmp_path, "pipe"):
        raise ConnectionError("network is unreachable")
    assert "nothing was kept" in caplog.text


def _real_error(action) -> BaseException:
    try:
        action()
    except BaseException as error:
        return error
    raise AssertionError("expected an error")


def _invalid_pipeline_name() -> BaseException:
    import dlt

    return _real_error(lambda: dlt.pipeline(pipeline_name="../../etc/x"))


def _dict_validation() -> BaseException:
    from dlt.common.schema.typing import TColumnSchema
    from dlt.common.validation import validate_dict

    return _real_error(lambda: validate_dict(TColumnSchema, {"name": "a", "data_type": "bogus"}, "."))


def _name_too_long() -> BaseException:
    return _real_error(lambda: open("/tmp/" + "x" * 300, "w"))


def _not_json() -> BaseException:
    import json

    return _real_error(lambda: json.dumps({"when": object()}))


@pytest.mark.parametrize(
    "make_error, reason",
    [
        (_invalid_pipeline_name, "pipeline name"),
        (_dict_validation, "refused a value"),
        (_name_too_long, "file name"),
        (_not_json, "JSON"),
    ],
)
def test_configuration_and_data_errors_a_retry_cannot_fix_are_terminal(make_error, reason):
    error = make_error()
    for raised in (error, _step_failed(error, "extract")):
        found = terminal_reason(raised)
        assert found is not None and reason in found, (type(error).__name__, found)


# ---------------------------------------------------------------- the error-chain walker


def _raised_while_handling(outer: Exception, handled: Exception) -> Exception:
    try:
        try:
            raise handled
        except Exception:
            raise outer  # noqa: B904 - the implicit __context__ is what the walker is tested on
    except Exception as error:
        return error


def test_error_chain_follows_causes_and_context_only_when_asked():
    from airflow_dlt_provider.runtime.failures import error_chain, root_cause

    inner = ValueError("inner")
    middle = _wrapped(RuntimeError("middle"), inner)
    outer = _raised_while_handling(KeyError("outer"), middle)
    assert list(error_chain(outer)) == [outer]
    assert list(error_chain(outer, context=True)) == [outer, middle, inner]
    assert root_cause(middle) is inner and root_cause(outer) is outer


def test_error_chain_follows_dlt_wrappers_and_survives_a_loop():
    from airflow_dlt_provider.runtime.failures import error_chain

    driver = ConnectionError("reset")
    job = LoadClientJobRetry("1", "items.abc.jsonl", 5, 5, "connection reset", driver)
    looped = RuntimeError("a")
    looped.__cause__ = RuntimeError("b")
    looped.__cause__.__cause__ = looped
    assert driver in list(error_chain(job, dlt_wrapped=True))
    assert driver not in list(error_chain(job))
    assert len(list(error_chain(looped, context=True))) == 2
