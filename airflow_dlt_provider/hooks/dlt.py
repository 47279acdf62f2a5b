"""``DltHook``: the generic ``dlt`` connection type, and dlt credentials from any mapped connection."""

from __future__ import annotations

from typing import Any

from airflow_dlt_provider._compat import BaseHook
from airflow_dlt_provider.hooks import form

__all__ = ["DltHook"]


class DltHook(BaseHook):
    """Builds dlt destinations and source credentials from an Airflow connection.

    Works with the generic ``dlt`` connection type (a destination name plus dlt credentials in ``extra``)
    and with every connection type that has a mapping (``postgres``, ``snowflake``, ``aws``, ...).
    Nothing is read until a method is called.

    :param dlt_conn_id: the Airflow connection (default ``dlt_default``).
    :param kwargs: passed to ``BaseHook``.
    """

    conn_name_attr = "dlt_conn_id"
    default_conn_name = "dlt_default"
    conn_type = form.CONN_TYPE
    hook_name = form.HOOK_NAME

    def __init__(self, dlt_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dlt_conn_id = dlt_conn_id

    def get_destination(self, destination: Any = None) -> Any:
        """The dlt destination factory with the connection's credentials.

        :param destination: a dlt destination name or factory; default: inferred from the connection type.
        """
        from airflow_dlt_provider.connections import destination_from_connection

        return destination_from_connection(self.dlt_conn_id, destination)

    def get_source_credentials(self) -> Any:
        """Credentials for a source factory (``ConnectionStringCredentials`` for SQL databases)."""
        from airflow_dlt_provider.connections import source_credentials_from_connection

        return source_credentials_from_connection(self.dlt_conn_id)

    def get_conn(self) -> Any:
        return self.get_destination()

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button: open a session with the destination and run a trivial query.

        SQL destinations run ``SELECT 1``; others (filesystem, ...) check that their storage is reachable.
        The message never holds a credential.
        """
        import tempfile

        import dlt

        from airflow_dlt_provider import _compat

        try:
            destination = self.get_destination()
            with tempfile.TemporaryDirectory(prefix="dlt-connection-test-") as pipelines_dir:
                pipeline = dlt.pipeline(
                    "airflow_dlt_connection_test",
                    pipelines_dir=pipelines_dir,
                    destination=destination,
                    dataset_name="airflow_dlt_connection_test",
                )
                try:
                    with pipeline.destination_client() as client:
                        sql_client = getattr(client, "sql_client", None)
                        if sql_client is not None:
                            sql_client.execute_sql("SELECT 1")
                        else:
                            client.is_storage_initialized()
                finally:
                    pipeline.deactivate()
        except Exception as error:
            return False, str(_compat.redact(f"{type(error).__name__}: {error}"))
        return True, f"connected to {pipeline.destination.destination_name}"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extra fields of the connection form (Airflow < 3.2; newer ones read ``conn-fields``)."""
        from flask_appbuilder.fieldwidgets import (
            BS3PasswordFieldWidget,
            BS3TextAreaFieldWidget,
            BS3TextFieldWidget,
        )
        from flask_babel import lazy_gettext
        from wtforms import PasswordField, StringField

        # Airflow 2 takes only String/Password/Integer/Boolean fields: a choice is a text field naming the
        # accepted values, a multi-line field a text field with a text-area widget
        widgets: dict[str, Any] = {}
        for name, spec in form.CONN_FIELDS.items():
            label, schema = lazy_gettext(spec["label"]), spec["schema"]
            description = spec.get("description", "")
            if "enum" in schema:
                description = f"{description}: {', '.join(schema['enum'])}"
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, description=description, widget=BS3PasswordFieldWidget())
            else:
                widget = (
                    BS3TextAreaFieldWidget() if schema.get("format") == "multiline" else BS3TextFieldWidget()
                )
                widgets[name] = StringField(label, description=description, widget=widget)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabelling and placeholders of the standard fields (Airflow < 3.2)."""
        behaviour = form.UI_FIELD_BEHAVIOUR
        return {
            "hidden_fields": list(behaviour["hidden-fields"]),
            "relabeling": dict(behaviour["relabeling"]),
            "placeholders": dict(behaviour["placeholders"]),
        }
