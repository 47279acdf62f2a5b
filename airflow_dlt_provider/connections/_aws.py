"""The AWS part shared by the ``aws`` connection mappings (Athena, filesystem on S3)."""

from __future__ import annotations

from airflow_dlt_provider.connections.base import ConnectionMapping, FieldSource

AWS_FIELDS: dict[str, FieldSource] = {
    "aws_access_key_id": ("login", "extra.aws_access_key_id"),
    "aws_secret_access_key": ("password", "extra.aws_secret_access_key"),
    "aws_session_token": ("extra.aws_session_token", "extra.session_token"),
    "region_name": ("extra.region_name", "extra.region"),
    "profile_name": ("extra.profile_name", "extra.profile"),
    "endpoint_url": ("extra.endpoint_url", "extra.host"),
}


class AwsMapping(ConnectionMapping):
    """Access key + secret (or a profile, or the default credential chain when both are empty)."""

    auth = "access key (login/password), session token, profile or the default AWS chain"
    conn_types = ("aws",)
    credentials_class = "dlt.sources.credentials:AwsCredentials"
    fields = AWS_FIELDS
    secret_fields = ("aws_secret_access_key", "aws_session_token")
