"""Inside one task: working dir, resume, data interval, dlt config and logging, the run, the schema
guard, failure classification and the summary. Nothing here runs at DAG parse time."""
