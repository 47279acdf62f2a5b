"""``pools/sync.py``'s pools in the metadata DB: found, created (or updated) and resized, descriptions kept."""

from __future__ import annotations

from airflow_dlt_provider import _compat
from airflow_dlt_provider.pools.sync import create_pool, existing_pools, set_pool_slots


def test_create_find_and_resize_a_pool() -> None:
    create_pool("dlt_sync_pool", 1, "made by the test")
    create_pool("dlt_sync_pool", 2, "made by the test, updated")
    assert existing_pools(["dlt_sync_pool", "dlt_sync_no_pool"]) == {"dlt_sync_pool": 2}
    assert existing_pools([]) == {}

    set_pool_slots("dlt_sync_pool", 1)
    assert existing_pools(["dlt_sync_pool"]) == {"dlt_sync_pool": 1}
    assert _compat.Pool.get_pool("dlt_sync_pool").description == "made by the test, updated"
