"""The pydantic models every agent, the API and the CLI share: the single source of truth."""
