"""Key schemas of the DynamoDB tables, shared by the CDK stack and the offline runtime."""

# Settings attribute -> (partition key, TTL attribute or None).
TABLE_KEYS: dict[str, tuple[str, str | None]] = {
    "models_table": ("model_id", None),
    "nodes_table": ("node_id", None),
    "decisions_table": ("request_id", "expires_at"),
    "stats_table": ("stat_key", None),
    "cache_table": ("cache_key", "expires_at"),
    "breakers_table": ("breaker_key", None),
    "usage_table": ("usage_key", "expires_at"),
}
# On the decisions table: (user_id, recorded_at), answers "how busy was this user lately".
DECISIONS_USER_INDEX = "by-user"
# Powertools idempotency's DynamoDBPersistenceLayer defaults: key `id`, TTL `expiration`.
IDEMPOTENCY_KEY, IDEMPOTENCY_TTL = "id", "expiration"
