"""Pure logic of the six agents: no events, no HTTP, no boto3; stores come in as ports."""
