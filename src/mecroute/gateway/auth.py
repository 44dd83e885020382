"""Caller authentication at the site, without a call to the region: an API key (header
`x-api-key` or `Authorization: Bearer`) whose SHA-256 is known names the user. The local API
(`mecroute serve --api-keys FILE`) checks callers with the same function and the same items."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mecroute.adapters.aws import table
from mecroute.adapters.web import HttpProblem
from mecroute.domain.request import Identifier

# The key of the API keys table (and of each KeyItem): the SHA-256 of the key, never the key.
API_KEY_HASH = "key_sha256"


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def authenticate(headers: Mapping[str, str], known: Mapping[str, str]) -> str | None:
    """The caller's user id; None when the site takes anonymous callers (no keys known)."""
    if not known:
        return None
    presented = headers.get("x-api-key") or _bearer(headers.get("authorization", ""))
    if not presented:
        raise HttpProblem(401, "Unauthorized", "send an API key (x-api-key)")
    user_id = known.get(key_hash(presented))  # a lookup by hash: the key itself is never compared
    if user_id is None:
        raise HttpProblem(403, "Forbidden", "unknown API key")
    return user_id


def _bearer(value: str) -> str:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ApiKeys:
    """Reads the API key hashes callers are verified against (key sha256 -> user id); none:
    callers are anonymous."""

    def read(self) -> dict[str, str]:
        return {}


class DynamoApiKeys(ApiKeys):
    """API key hashes from a DynamoDB table of {key_sha256, user_id} items."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def read(self) -> dict[str, str]:
        items = table(self.table_name).scan().get("Items", [])
        return {str(i[API_KEY_HASH]): str(i["user_id"]) for i in items}


class KeyItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_sha256: str
    user_id: Identifier


class KeyFile(BaseModel):
    """`{"keys": [{"key_sha256": ..., "user_id": ...}]}`: the table's items, as a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: list[KeyItem]


class FileApiKeys(ApiKeys):
    """API key hashes from a JSON file (KeyFile), read again whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._known: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        stat = self.path.stat()
        with self._lock:
            if self._seen != (stat.st_mtime, stat.st_size):
                parsed = KeyFile.model_validate(json.loads(self.path.read_text()))
                self._known = {item.key_sha256.lower(): item.user_id for item in parsed.keys}
                self._seen = (stat.st_mtime, stat.st_size)
            return self._known


def api_keys(table_name: str | None, path: Path | None) -> ApiKeys:
    """Where a gateway or the local API reads its callers' keys (a table, else a file)."""
    if table_name:
        return DynamoApiKeys(table_name)
    return FileApiKeys(path) if path else ApiKeys()
