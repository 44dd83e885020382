"""What callers may spend and have spent: budgets per caller per UTC day and month.

A caller's budget comes from the tenants file (`src/mecroute/tenants.json`, or the file named
by MECROUTE_TENANTS_FILE); a caller it does not name has the file's default, unlimited unless
set. Spend is kept per caller and period in the usage table (`agents/spend.py` keeps it).
"""

from __future__ import annotations

import calendar
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mecroute.domain.errors import problems_line
from mecroute.domain.request import Identifier

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
TENANTS_FILE = Path(__file__).resolve().parents[1] / "tenants.json"
TENANTS_FILE_VARIABLE = "MECROUTE_TENANTS_FILE"


class Budget(BaseModel):
    """US dollars a caller may spend per UTC day and per UTC month; None: no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)

    def limit(self, period: Period) -> float | None:
        return self.daily_usd if period == "day" else self.monthly_usd

    @property
    def unlimited(self) -> bool:
        return self.daily_usd is None and self.monthly_usd is None


class Tenants(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Budget = Budget()
    budgets: dict[Identifier, Budget] = Field(default_factory=dict)

    def budget_for(self, user_id: str) -> Budget:
        return self.budgets.get(user_id, self.default)


class InvalidTenantsFile(ValueError):
    """The tenants file is not valid: the message names the file and each field."""


def load_tenants(path: Path | None = None) -> Tenants:
    path = path or Path(os.environ.get(TENANTS_FILE_VARIABLE) or TENANTS_FILE)
    try:
        return Tenants.model_validate(json.loads(path.read_text()))
    except ValidationError as error:
        raise InvalidTenantsFile(f"{path}: {problems_line(error)}") from None
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidTenantsFile(f"{path}: {error}") from None


def period_label(period: Period, now: float) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


def period_key(user_id: str, period: Period, now: float) -> str:
    """`alice#day#2026-11-30`: one usage item per caller and period."""
    return f"{user_id}#{period}#{period_label(period, now)}"


def resets_at(period: Period, now: float) -> float:
    """When the period containing `now` ends (UTC midnight; the first of the next month)."""
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (
        1 if period == "day" else calendar.monthrange(moment.year, moment.month)[1] - moment.day + 1
    )
    return start.timestamp() + days * 86_400


# Standing, Usage and CallerBudget are read only for callers with a budget and GET /v1/usage:
# built on first use (defer_build), not in every agent's cold start.
class Standing(BaseModel):
    """A caller's spend in one period, against its limit."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    period: Period
    label: str = Field(description="The period: 2026-11-30, or 2026-11.")
    spent_usd: float = Field(ge=0)
    answers: int = Field(ge=0, description="Paid answers counted in the period.")
    limit_usd: float | None
    remaining_usd: float | None
    resets_at: str = Field(description="When the period ends, ISO 8601 UTC.")

    def describe(self, user_id: str) -> str:
        name = "daily" if self.period == "day" else "monthly"
        return (
            f"caller {user_id}'s {name} budget ${self.limit_usd:g}: "
            f"${self.spent_usd:.6f} spent, ${self.remaining_usd or 0:.6f} left, "
            f"resets {self.resets_at}"
        )


class Usage(BaseModel):
    """GET /v1/usage: the caller's own spend today and this month."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    user_id: str
    day: Standing
    month: Standing

    def tightest(self) -> Standing | None:
        """The limited period with the least left, or None when the caller has no limit."""
        limited = [s for s in (self.day, self.month) if s.remaining_usd is not None]
        return min(limited, key=lambda s: s.remaining_usd or 0.0, default=None)


class CallerBudget(BaseModel):
    """What the router needs of the caller's budget: how much is left, and words for a refusal."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    remaining_usd: float = Field(ge=0)
    detail: str


def standing(period: Period, spent: float, answers: int, budget: Budget, now: float) -> Standing:
    limit = budget.limit(period)
    return Standing(
        period=period,
        label=period_label(period, now),
        spent_usd=round(max(0.0, spent), 8),
        answers=answers,
        limit_usd=limit,
        remaining_usd=None if limit is None else round(max(0.0, limit - spent), 8),
        resets_at=datetime.fromtimestamp(resets_at(period, now), UTC).isoformat(),
    )
