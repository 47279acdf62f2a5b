"""Airflow ``wasb`` / ``adls`` connection -> dlt ``filesystem`` destination on Azure (``extra.bucket_url``)."""

from __future__ import annotations

from airflow_dlt_provider.connections._filesystem import FilesystemMapping


def _extra(key: str) -> tuple[str, str, str]:
    """The extra key and its legacy ``extra__wasb__`` / ``extra__adls__`` names."""
    return (f"extra.{key}", f"extra.extra__wasb__{key}", f"extra.extra__adls__{key}")


class _Azure(FilesystemMapping):
    conn_types = ("wasb", "adls")
    pip_extra = "az"
    driver_modules = ("adlfs",)


class FilesystemAzureKeyMapping(_Azure):
    name = "filesystem_azure_key"
    auth = "storage account name (login) and account key (password) or SAS token (extra.sas_token)"
    credentials_class = "dlt.sources.credentials:AzureCredentials"
    fields = {
        "azure_storage_account_name": ("extra.account_name", "login", "host"),
        "azure_storage_account_key": ("password", *_extra("shared_access_key")),
        "azure_storage_sas_token": _extra("sas_token"),
    }
    required = ("azure_storage_account_name", "bucket_url")
    secret_fields = ("azure_storage_account_key", "azure_storage_sas_token")


class FilesystemAzureServicePrincipalMapping(_Azure):
    name = "filesystem_azure_service_principal"
    auth = "service principal: client id (login), secret (password), extra.tenant_id"
    credentials_class = "dlt.sources.credentials:AzureServicePrincipalCredentials"
    fields = {
        "azure_storage_account_name": ("extra.account_name", "host"),
        "azure_tenant_id": _extra("tenant_id"),
        "azure_client_id": ("login", *_extra("client_id")),
        "azure_client_secret": ("password", *_extra("client_secret")),
    }
    required = (
        "azure_storage_account_name",
        "azure_tenant_id",
        "azure_client_id",
        "azure_client_secret",
        "bucket_url",
    )
    secret_fields = ("azure_client_secret",)
    claim_when_any = _extra("tenant_id")
    priority = 10
