"""``runtime.discover``: the components a mapped group's discover task returns (no Airflow run needed)."""

from __future__ import annotations

import dlt
import pytest

from airflow_dlt_provider.authoring.sources import resolve_source_spec
from airflow_dlt_provider.exceptions import UnknownResourceError
from airflow_dlt_provider.runtime.discover import discover_components


@dlt.source(name="odd")
def odd_source(prefix: str = "x"):
    @dlt.resource(name="a b")
    def spaced():
        yield {"id": 1}

    @dlt.resource(name="a_b")
    def plain():
        yield {"id": 2}

    @dlt.resource(name="parent", selected=False)
    def parent():
        yield {"id": 3}

    @dlt.transformer(data_from=parent, name="left")
    def left(item):
        yield {"prefix": prefix, **item}

    @dlt.transformer(data_from=parent, name="right")
    def right(item):
        yield item

    return spaced, plain, parent, left, right


def test_components_are_disjoint_uniquely_named_and_get_their_own_pipelines():
    found = discover_components(
        resolve_source_spec(odd_source), pipeline_name="p", source_kwargs={"prefix": "y"}
    )

    assert [c["resources"] for c in found] == [["a b"], ["a_b"], ["left", "right"]]
    names = [c["name"] for c in found]
    assert names[1:] == ["a_b", "left"] and names[0].startswith("a_b_") and len(set(names)) == 3
    assert [c["pipeline_name"] for c in found] == [f"p__{name}" for name in names]


def test_resources_restrict_discovery_and_unknown_names_fail_clearly():
    spec = resolve_source_spec(odd_source)
    found = discover_components(spec, pipeline_name="p", resources=["right", "a_b"])
    assert [c["resources"] for c in found] == [["right"], ["a_b"]]

    with pytest.raises(UnknownResourceError) as error:
        discover_components(spec, pipeline_name="p", resources=["left", "nope"])
    assert (
        "source 'odd' has no resource named 'nope'; available resources: a b, a_b, parent, left, right"
        in str(error.value)
    )
