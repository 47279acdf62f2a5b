"""Pools of dlt tasks: ``names`` (pure: the pool of a pipeline) and ``sync`` (the pools a DAGs folder needs)."""
