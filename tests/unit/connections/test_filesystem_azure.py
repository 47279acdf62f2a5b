"""``wasb`` / ``adls`` connections -> dlt ``filesystem`` destination on Azure."""

from __future__ import annotations

import pytest
from support.secrets import HARD_PASSWORD, assert_masked

from airflow_dlt_provider.connections import map_connection
from airflow_dlt_provider.connections.filesystem_azure import (
    FilesystemAzureKeyMapping,
    FilesystemAzureServicePrincipalMapping,
)
from airflow_dlt_provider.exceptions import ConnectionMappingError

SAS = "sv=2024-01-01&ss=b&sig=AbCdEf%2Bsecret"


def test_account_key_and_sas(make_conn):
    conn_id = make_conn(
        "wasb",
        login="mystorage",
        password=HARD_PASSWORD,
        extra={"bucket_url": "az://container/raw", "extra__wasb__sas_token": SAS},
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is FilesystemAzureKeyMapping and mapped.destination == "filesystem"
    credentials = mapped.credentials
    assert credentials.azure_storage_account_name == "mystorage"
    assert credentials.azure_storage_account_key == HARD_PASSWORD
    assert credentials.azure_storage_sas_token == SAS
    assert mapped.kwargs["bucket_url"] == "az://container/raw"
    assert_masked(HARD_PASSWORD, SAS)


def test_service_principal_on_adls(make_conn):
    conn_id = make_conn(
        "adls",
        host="lakeaccount",
        login="client-id-1",
        password=HARD_PASSWORD,
        extra={"tenant_id": "tenant-1", "bucket_url": "abfss://c@lakeaccount.dfs.core.windows.net/x"},
    )
    mapped = map_connection(conn_id)
    assert mapped.mapping is FilesystemAzureServicePrincipalMapping
    credentials = mapped.credentials
    assert (credentials.azure_storage_account_name, credentials.azure_tenant_id) == (
        "lakeaccount",
        "tenant-1",
    )
    assert (credentials.azure_client_id, credentials.azure_client_secret) == ("client-id-1", HARD_PASSWORD)
    assert_masked(HARD_PASSWORD)


def test_bucket_url_is_required(make_conn):
    conn_id = make_conn("wasb", login="mystorage", password=HARD_PASSWORD)
    with pytest.raises(ConnectionMappingError, match=f"{conn_id}.*'bucket_url'.*extra.bucket_url"):
        map_connection(conn_id)
