"""Reads a request can do without: a store that fails them degrades the answer, not the request."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from mecroute.adapters.ports import DecisionLog
from mecroute.domain.messages import MonitorRecord

log = logging.getLogger(__name__)


class BestEffortHistory:
    """The context agent's view of the decisions table. How busy the user was lately only
    refines the analysis: when the table refuses the read (throttled, unreachable), the
    request goes on as from a quiet user instead of failing."""

    def __init__(self, decisions: DecisionLog) -> None:
        self.decisions = decisions

    def put(self, record: MonitorRecord) -> None:
        self.decisions.put(record)

    def get(self, request_id: str) -> MonitorRecord | None:
        return self.decisions.get(request_id)

    def recent_count(self, user_id: str, since: float) -> int:
        try:
            return self.decisions.recent_count(user_id, since)
        except (ClientError, BotoCoreError) as error:
            log.warning("user history unavailable, counted as none: %s", error)
            return 0
