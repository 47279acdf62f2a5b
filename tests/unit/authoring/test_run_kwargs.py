"""run_kwargs checked at parse time: keys and the values dlt would refuse at run time."""

from __future__ import annotations

import typing

import pytest

from airflow_dlt_provider.authoring import arguments as run_kwargs
from airflow_dlt_provider.authoring.arguments import check_run_kwargs
from airflow_dlt_provider.exceptions import InvalidArgumentError


@pytest.mark.parametrize(
    "given, message",
    [
        (
            {"write_disposition": "bogus"},
            "run_kwargs['write_disposition']='bogus' is not accepted; expected one of: skip, append, replace, merge",
        ),
        ({"write_disposition": {"disposition": "upsert"}}, "run_kwargs['write_disposition']='upsert'"),
        ({"loader_file_format": "xml"}, "run_kwargs['loader_file_format']='xml'"),
        ({"refresh": "drop_everything"}, "expected one of: drop_sources, drop_resources, drop_data"),
        ({"schema_contract": "strict"}, "expected one of: evolve, discard_value, freeze, discard_row"),
        ({"schema_contract": {"rows": "freeze"}}, "unknown: rows"),
        ({"schema_contract": {"columns": "nope"}}, "run_kwargs['schema_contract.columns']='nope'"),
        ({"writedisposition": "append"}, "unknown key(s) writedisposition; accepted:"),
    ],
)
def test_wrong_values_name_the_key_and_the_accepted_values(given, message):
    with pytest.raises(InvalidArgumentError) as error:
        check_run_kwargs(given)
    assert message in str(error.value)


def test_accepted_values_pass_unchanged():
    given = {
        "write_disposition": {"disposition": "merge", "strategy": "scd2"},
        "loader_file_format": "parquet",
        "refresh": "drop_resources",
        "schema_contract": {"tables": "evolve", "columns": "freeze"},
        "table_name": "t",
    }
    assert check_run_kwargs(given) == given


def test_operator_refuses_a_bogus_write_disposition_at_parse_time():
    from github_sample_source import github_sample

    from airflow_dlt_provider import DltRunOperator

    with pytest.raises(InvalidArgumentError, match="write_disposition"):
        DltRunOperator(
            task_id="t", source=github_sample, pipeline_name="p", run_kwargs={"write_disposition": "bogus"}
        )


@pytest.mark.parametrize(
    "ours, dlt_type",
    [
        ("WRITE_DISPOSITIONS", "dlt.common.schema.typing:TWriteDisposition"),
        ("LOADER_FILE_FORMATS", "dlt.common.typing:TLoaderFileFormat"),
        ("REFRESH_MODES", "dlt.common.typing:TRefreshMode"),
        ("SCHEMA_EVOLUTION_MODES", "dlt.common.schema.typing:TSchemaEvolutionMode"),
        ("SCHEMA_CONTRACT_ENTITIES", "dlt.common.schema.typing:TSchemaContractEntities"),
    ],
)
def test_accepted_values_are_dlts_own(ours, dlt_type):
    """Contract: a dlt release that adds or drops a value fails here, naming the list to update."""
    import importlib

    module, name = dlt_type.split(":")
    literal = getattr(importlib.import_module(module), name)
    assert set(getattr(run_kwargs, ours)) == set(typing.get_args(literal)), f"update run_kwargs.{ours}"
