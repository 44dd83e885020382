"""The doors to the outside world: ports (interfaces), AWS adapters and in-memory fakes."""
