"""Parse time: DltTaskGroup, argument checks, source specs, the pure plan and the parse cache."""
