"""Which failures Airflow should retry, and what a failed attempt leaves behind.

Transient errors (network, a destination that is down, a load job that ran out of dlt's own retries, an
``execution_timeout``, a killed worker) are re-raised as they are, so Airflow's ``retries`` apply and the
next attempt resumes from the kept working directory. Terminal errors -- bad credentials, a terminal error
reported by the destination (including a load job that failed terminally), schema contract violations,
configuration errors, wrong arguments -- fail the task with ``AirflowFailException``: retrying cannot fix
them, so no retry is burnt. Their load packages stay in the working directory either way; after fixing the
cause, clearing the task loads them first.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from airflow_dlt_provider import _compat
from airflow_dlt_provider.exceptions import DltProviderError, PipelineBusyError

log = logging.getLogger(__name__)

# lower-case fragments of driver messages that mean the credentials were refused (the drivers raise
# operational errors for these, which dlt reports as transient)
AUTHENTICATION_FAILURES = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "invalid password",
    "access denied for user",
    "login failed for user",
    "invalid username or password",
    "incorrect username or password",
)


def error_chain(
    error: BaseException, *, context: bool = False, dlt_wrapped: bool = False
) -> Iterator[BaseException]:
    """``error``, then the exceptions it wraps, nearest first, each once (a chain may loop back).

    Always followed: ``__cause__`` (``raise ... from``). ``context=True``: an exception without a cause leads
    on to ``__context__`` (the exception being handled when it was raised), as Python's traceback shows it.
    ``dlt_wrapped=True``: also dlt's wrappers' ``exception`` and ``client_exception`` attributes, breadth first.
    """
    seen: set[int] = set()
    todo: deque[BaseException | None] = deque([error])
    while todo:
        current = todo.popleft()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += _wrapped_by(current, context, dlt_wrapped)


def _wrapped_by(error: BaseException, context: bool, dlt_wrapped: bool) -> list[BaseException | None]:
    cause = error.__cause__ or (error.__context__ if context else None)
    if not dlt_wrapped:
        return [cause]
    wrapped = getattr(error, "exception", None)
    return [
        cause,
        wrapped if isinstance(wrapped, BaseException) else None,
        getattr(error, "client_exception", None),
    ]


def root_cause(error: BaseException) -> BaseException:
    """The innermost ``__cause__`` of ``error`` (``error`` itself when it has none)."""
    *_, innermost = error_chain(error)
    return innermost


def terminal_reason(error: BaseException) -> str | None:
    """Why retrying ``error`` cannot help, or ``None`` when Airflow should retry it.

    In order: an interruption (timeout, signal) is retried; so is another task holding the pipeline
    (``PipelineBusyError``, e.g. a lease taken over while loading); refused credentials are terminal even when
    the driver calls them operational; anything dlt marks transient is retried (also when wrapped in a
    provider error); contract violations, provider errors and dlt's terminal errors are terminal; the
    rest is retried.
    """
    from dlt.common.exceptions import TerminalException, TransientException
    from dlt.common.schema.exceptions import DataValidationError

    # __context__ is not followed: it holds exceptions that were handled while this one was raised
    chain = list(error_chain(error, dlt_wrapped=True))
    if any(isinstance(e, (KeyboardInterrupt, SystemExit)) or not isinstance(e, Exception) for e in chain):
        return None
    if any(isinstance(e, PipelineBusyError) for e in chain):
        return None
    for e in chain:
        text = str(e).lower()
        if any(fragment in text for fragment in AUTHENTICATION_FAILURES):
            return "the destination or source refused the credentials"
    if any(isinstance(e, TransientException) for e in chain):
        return None
    for e in chain:
        reason = _configuration_or_data_error(e)
        if reason is not None:
            return reason
    for e in chain:
        if isinstance(e, DataValidationError):
            return "the data violates the schema contract"
        if isinstance(e, DltProviderError):
            return "airflow-dlt-provider stopped the run"
        if isinstance(e, TerminalException):
            return f"dlt reported a terminal error ({type(e).__name__})"
    return None


def _configuration_or_data_error(error: BaseException) -> str | None:
    """Errors of configuration or data that every retry would hit again (dlt does not mark them terminal)."""
    from dlt.common.exceptions import DictValidationException
    from dlt.pipeline.exceptions import InvalidPipelineName

    if isinstance(error, InvalidPipelineName):
        return "dlt refused the pipeline name"
    if isinstance(error, DictValidationException):
        return "dlt refused a value of the configuration or schema"
    if isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG:
        return "a file name built from the configuration is too long"
    if isinstance(error, TypeError) and "not json serializable" in str(error).lower():
        return "a value is not JSON-serialisable"
    return None


def _short(error: BaseException) -> str:
    text = str(_compat.redact(str(error)))
    return text if len(text) <= 2000 else text[:2000] + " ..."


@contextlib.contextmanager
def classified(working_dir: Path, pipeline_name: str, shared: bool = False) -> Iterator[None]:
    """Log what a failure keeps and what the retry does; turn terminal errors into ``AirflowFailException``."""
    from airflow_dlt_provider.runtime.resume import describe_kept
    from airflow_dlt_provider.runtime.workdir import keep_after_failure

    try:
        yield
    except BaseException as error:
        try:
            keep_after_failure(working_dir, pipeline_name)
            kept = describe_kept(working_dir, pipeline_name, shared)
        except Exception as cleanup_error:  # never hide the real failure behind the report about it
            kept = f"what was kept in {working_dir} could not be checked ({type(cleanup_error).__name__})"
        if isinstance(error, _compat.airflow_fail_exception()):
            raise
        reason = terminal_reason(error)
        if reason is None:
            log.error("dlt run failed (%s); %s", type(error).__name__, kept)
            raise
        log.error(
            "dlt run failed with an error that a retry cannot fix: %s. %s -- it is not retried automatically: "
            "fix the cause, then clear the task",
            reason,
            kept.replace("the retry", "the next attempt"),
        )
        raise _compat.airflow_fail_exception()(
            f"{reason}: {type(error).__name__}: {_short(error)}"
        ) from error
