"""plan.py without Airflow: components, task ids, pipeline names, pools and edges."""

from __future__ import annotations

import re
from typing import Any

import dlt
import pytest
from dlt.extract.source import DltSource

from airflow_dlt_provider.authoring.decompose import build_plan, plan_source
from airflow_dlt_provider.authoring.names import (
    MAX_DERIVED_PIPELINE_NAME_BYTES,
    MAX_TASK_ID_LENGTH,
    short_hash,
)
from airflow_dlt_provider.authoring.plan import Component, components_from_source
from airflow_dlt_provider.exceptions import InvalidArgumentError
from airflow_dlt_provider.pools.names import AUTO_POOL

SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def _resource(name: str) -> Any:
    return dlt.resource([{"id": 1}], name=name)


def _transformer(name: str, parent: Any) -> Any:
    @dlt.transformer(data_from=parent, name=name)
    def _t(item: Any) -> Any:
        yield item

    return _t


def _source(*resources: Any, name: str = "src") -> DltSource:
    return DltSource(dlt.Schema(name), name, list(resources))


@pytest.fixture
def shop() -> DltSource:
    """users; orders -> items -> item_details; orders -> payments; products; reviews fed by products."""
    users = _resource("users")
    orders = _resource("orders")
    items = _transformer("items", orders)
    details = _transformer("item_details", items)
    payments = _transformer("payments", orders)
    products = _resource("products")
    reviews = _transformer("reviews", products)
    return _source(users, orders, items, details, payments, products, reviews, name="shop")


def _plan(source: Any, decompose: str, **kwargs: Any) -> Any:
    kwargs.setdefault("pipeline_name", "shop_pipe")
    return plan_source(source, decompose=decompose, **kwargs)


# ---------------------------------------------------------------- components


def test_transformers_stay_with_the_resource_feeding_them(shop):
    assert components_from_source(shop) == [
        Component(("users",)),
        Component(("orders", "items", "item_details", "payments")),
        Component(("products", "reviews")),
    ]


def test_components_match_dlt_scc_decomposition(shop):
    ours = {frozenset(c.resources) for c in components_from_source(shop)}
    theirs = {frozenset(s.selected_resources.keys()) for s in shop.decompose("scc")}
    assert ours == theirs


def test_transformers_sharing_an_unselected_parent_run_together(shop):
    source = shop.with_resources("users", "items", "payments", "reviews")
    assert components_from_source(source) == [
        Component(("users",)),
        Component(("items", "payments")),
        Component(("reviews",)),
    ]


def test_resources_subset_of_a_source_object(shop):
    plan = _plan(shop, "serialize", resources=["reviews", "users", "products"])
    assert [t.resources for t in plan.tasks] == [("reviews", "products"), ("users",)]
    assert plan.task_ids == ["reviews", "users"]


# ---------------------------------------------------------------- edges per mode


def test_none_is_one_task_named_after_the_source(shop):
    plan = _plan(shop, "none")
    assert plan.task_ids == ["shop"]
    assert plan.tasks[0].resources is None
    assert plan.tasks[0].pipeline_name == "shop_pipe"
    assert plan.tasks[0].pool == "dlt_shop_pipe"
    assert plan.edges == ()


def test_serialize_chains_components_in_source_order(shop):
    plan = _plan(shop, "serialize")
    assert plan.task_ids == ["users", "orders", "products"]
    assert plan.edges == (("users", "orders"), ("orders", "products"))
    assert {t.pipeline_name for t in plan.tasks} == {"shop_pipe"}
    assert {t.pool for t in plan.tasks} == {"dlt_shop_pipe"}


def test_independent_runs_first_component_first_and_the_rest_after_it_only(shop):
    plan = _plan(shop, "independent")
    assert plan.edges == (("users", "orders"), ("users", "products"))
    assert plan.upstream_of("products") == ["users"]
    assert {t.pool for t in plan.tasks} == {"dlt_shop_pipe"}
    assert not any(t.isolated for t in plan.tasks)


def test_parallel_isolated_gives_each_task_its_own_pipeline_and_pool(shop):
    plan = _plan(shop, "parallel-isolated")
    assert plan.edges == (("users", "orders"), ("users", "products"))
    assert [(t.pipeline_name, t.pool) for t in plan.tasks] == [
        ("shop_pipe__users", "dlt_shop_pipe__users"),
        ("shop_pipe__orders", "dlt_shop_pipe__orders"),
        ("shop_pipe__products", "dlt_shop_pipe__products"),
    ]
    assert plan.pools == ["dlt_shop_pipe__users", "dlt_shop_pipe__orders", "dlt_shop_pipe__products"]


def test_task_id_by_resource(shop):
    plan = _plan(shop, "serialize")
    assert plan.task_id_by_resource() == {
        "users": "users",
        "orders": "orders",
        "items": "orders",
        "item_details": "orders",
        "payments": "orders",
        "products": "products",
        "reviews": "products",
    }


# ---------------------------------------------------------------- pools


@pytest.mark.parametrize(
    ("pool", "expected"),
    [(AUTO_POOL, "dlt_shop_pipe"), (None, None), ("shared_warehouse", "shared_warehouse")],
)
def test_pool_argument(shop, pool, expected):
    plan = _plan(shop, "serialize", pool=pool)
    assert {t.pool for t in plan.tasks} == {expected}


def test_explicit_pool_is_used_as_given_even_when_isolated(shop):
    plan = _plan(shop, "parallel-isolated", pool="one_pool")
    assert {t.pool for t in plan.tasks} == {"one_pool"}
    assert plan.tasks[1].pipeline_name == "shop_pipe__orders"


# ---------------------------------------------------------------- ids


def test_odd_names_become_safe_unique_and_stable_ids():
    names = ["my resource", "my/resource", "my_resource", "名前", "données", "a.b-c_D9", ""]
    components = [Component((n,)) for n in names if n] + [Component(("x y",))]
    plan = build_plan(components, source_name="s", pipeline_name="p", group_prefix="grp.")
    ids = plan.task_ids
    assert all(SAFE_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids[2] == "my_resource"  # an already safe name is kept as it is
    assert ids[0] == f"my_resource_{short_hash('my resource')}"
    assert ids[1] == f"my_resource_{short_hash('my/resource')}"
    assert ids[3] == f"___{short_hash('名前')}"
    assert ids[4] == f"donn_es_{short_hash('données')}"
    assert ids[5] == "a.b-c_D9"
    again = build_plan(components, source_name="s", pipeline_name="p", group_prefix="grp.")
    assert again.task_ids == ids


def test_300_character_names_fit_in_250_with_the_group_prefix():
    prefix = "some_group_id."
    long_a = "a" * 299 + "1"
    long_b = "a" * 299 + "2"
    plan = build_plan(
        [Component((long_a,)), Component((long_b,))],
        source_name="s",
        pipeline_name="p",
        group_prefix=prefix,
        decompose="parallel-isolated",
    )
    ids = plan.task_ids
    assert all(len(prefix + i) <= MAX_TASK_ID_LENGTH for i in ids)
    assert len(prefix + ids[0]) == MAX_TASK_ID_LENGTH
    assert ids[0] != ids[1]
    assert ids[0].endswith(short_hash(long_a))
    assert all(len(t.pipeline_name.encode()) <= MAX_DERIVED_PIPELINE_NAME_BYTES for t in plan.tasks)
    assert plan.tasks[0].pipeline_name != plan.tasks[1].pipeline_name
    assert plan.tasks[0].pool == f"dlt_{plan.tasks[0].pipeline_name}"


def test_id_collision_with_a_hashed_name_gets_a_counter():
    odd = "x y"
    taken = f"x_y_{short_hash(odd)}"
    plan = build_plan([Component((taken,)), Component((odd,))], source_name="s", pipeline_name="p")
    assert plan.task_ids == [taken, f"{taken}-2"]


def test_none_uses_the_source_name_sanitised():
    plan = build_plan([], source_name="my source", pipeline_name="p", decompose="none")
    assert plan.task_ids == [f"my_source_{short_hash('my source')}"]


def test_group_prefix_that_leaves_no_room_is_an_error():
    with pytest.raises(InvalidArgumentError, match="250 characters"):
        build_plan([Component(("a",))], source_name="s", pipeline_name="p", group_prefix="g" * 245 + ".")


# ---------------------------------------------------------------- names only (factory not called)


def test_resources_by_name_does_not_need_the_source():
    plan = plan_source(
        None, pipeline_name="p", decompose="independent", resources=["users", ["issues", "comments"]]
    )
    assert plan.task_ids == ["users", "issues"]
    assert plan.tasks[1].resources == ("issues", "comments")
    assert plan.edges == (("users", "issues"),)


def test_none_by_name_loads_the_listed_resources():
    plan = plan_source(None, pipeline_name="p", decompose="none", resources=["a", "b"], source_name="src")
    assert plan.task_ids == ["src"]
    assert plan.tasks[0].resources == ("a", "b")


# ---------------------------------------------------------------- errors


def test_unknown_decompose_lists_accepted_values(shop):
    with pytest.raises(InvalidArgumentError) as error:
        _plan(shop, "paralel")
    assert str(error.value) == (
        "decompose='paralel' is not one of: none, serialize, independent, parallel-isolated, mapped"
    )


def test_graph_is_needed_without_resources():
    with pytest.raises(InvalidArgumentError, match="needs the source graph"):
        plan_source(None, pipeline_name="p", decompose="serialize")


def test_deep_transformer_chain_is_one_component():
    parent = _resource("r0")
    chain = [parent]
    for i in range(1, 200):
        parent = _transformer(f"r{i}", parent)
        chain.append(parent)
    # declared leaf first: the walk from the leaf covers the chain once
    components = components_from_source(_source(*reversed(chain)))
    assert len(components) == 1
    assert components[0].first == "r199"
    assert len(components[0].resources) == 200


def test_the_planner_and_the_strategies_import_no_airflow():
    """plan.py and every decompose strategy are pure at import: Airflow comes in only when a strategy builds."""
    import subprocess
    import sys

    code = (
        "import importlib, sys\n"
        "import airflow_dlt_provider.authoring.plan\n"
        "from airflow_dlt_provider.authoring import decompose\n"
        "for module in decompose.STRATEGY_MODULES.values():\n"
        "    importlib.import_module(f'airflow_dlt_provider.authoring.decompose.{module}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'dlt')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_mode_has_one_strategy_and_old_names_get_the_new_ones():
    from airflow_dlt_provider.authoring.decompose import STRATEGY_MODULES, strategy_for
    from airflow_dlt_provider.authoring.plan import DECOMPOSE_MODES
    from airflow_dlt_provider.exceptions import DltProviderDeprecationWarning

    assert tuple(STRATEGY_MODULES) == DECOMPOSE_MODES
    assert [strategy_for(mode).mode for mode in DECOMPOSE_MODES] == list(DECOMPOSE_MODES)
    with pytest.warns(DltProviderDeprecationWarning, match="decompose='independent'"):
        assert strategy_for("parallel") is strategy_for("independent")


def test_mapped_has_no_parse_time_plan_of_its_components():
    with pytest.raises(InvalidArgumentError, match="found when the group's discover task runs"):
        build_plan([Component(("a",))], source_name="s", pipeline_name="p", decompose="mapped")
    plan = plan_source(None, pipeline_name="p", decompose="mapped", resources=["a", "b"], source_name="s")
    assert [(t.task_id, t.resources, t.pool) for t in plan.tasks] == [
        ("discover", ("a", "b"), None),
        ("load", ("a", "b"), "dlt_p__mapped"),
    ]
    assert plan.edges == (("discover", "load"),)


def test_isolated_and_mapped_name_components_by_one_rule(shop):
    from airflow_dlt_provider.authoring.decompose.mapped import name_mapped_components

    isolated = _plan(shop, "parallel-isolated")
    mapped = name_mapped_components(list(isolated.components), "shop_pipe")
    assert [(t.task_id, t.pipeline_name) for t in isolated.tasks] == [
        (c.name, c.pipeline_name) for c in mapped
    ]
