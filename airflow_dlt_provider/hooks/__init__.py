"""Hooks of the provider (``DltHook`` for the generic ``dlt`` connection type)."""
