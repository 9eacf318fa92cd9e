"""Kazakhstan working-day calendar and the Asia/Almaty time zone of every legal clock.

Base: the `holidays` package (weekend roll-forward, Government transfers up to the last decree
it knows, working Saturdays/Sundays in `weekend_workdays`). On top: `CalendarOverride`s for
decrees the package does not know yet, or gets wrong, each citing its decree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from importlib import metadata
from importlib.resources import files
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

ONE_DAY = timedelta(days=1)
ZONE_KEY = "Asia/Almaty"


def _almaty_candidates() -> Iterable[ZoneInfo]:
    # The tzdata wheel tracks IANA releases; a system database older than 2024a still puts
    # Almaty on UTC+6 after 2024-03-01, an hour off on every due moment.
    if importlib.util.find_spec("tzdata") is not None:
        source = files("tzdata.zoneinfo").joinpath("Asia", "Almaty")
        with source.open("rb") as handle:
            yield ZoneInfo.from_file(handle, key=ZONE_KEY)
    yield ZoneInfo(ZONE_KEY)


def _load_almaty() -> ZoneInfo:
    """The first Asia/Almaty zone that knows the 2024-03-01 move from UTC+6 to UTC+5."""
    for zone in _almaty_candidates():
        before = zone.utcoffset(datetime(2024, 2, 28, 12))
        after = zone.utcoffset(datetime(2024, 3, 2, 12))
        if before == timedelta(hours=6) and after == timedelta(hours=5):
            return zone
    raise RuntimeError(
        "the time zone database predates IANA 2024a: Asia/Almaty is not UTC+5 after "
        "2024-03-01; install the `tzdata` package or update the system tzdata"
    )


ALMATY = _load_almaty()


class CalendarOverride(BaseModel):
    """One day whose status a Government decree sets, overriding the `holidays` package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    kind: Literal["day_off", "working_day"]
    decree: str = Field(min_length=1)


_OVERRIDES = TypeAdapter(list[CalendarOverride])


def parse_overrides(json_text: str) -> list[CalendarOverride]:
    """Overrides from a JSON array of `{"day", "kind", "decree"}` objects."""
    return _OVERRIDES.validate_json(json_text)


class WorkingCalendar:
    """Working days of the 5-day week in Kazakhstan (Government transfers apply only to it)."""

    def __init__(self, overrides: Iterable[CalendarOverride] = ()) -> None:
        by_day: dict[date, CalendarOverride] = {}
        for override in overrides:
            known = by_day.get(override.day)
            if known is not None and known.kind != override.kind:
                raise ValueError(f"conflicting overrides for {override.day.isoformat()}")
            by_day[override.day] = override
        self._overrides = by_day
        self._days_off: dict[int, frozenset[date]] = {}
        digest = hashlib.sha256(
            json.dumps(
                [o.model_dump(mode="json") for o in sorted(by_day.values(), key=lambda o: o.day)],
                ensure_ascii=False,
                sort_keys=True,
            ).encode()
        ).hexdigest()[:8]
        self.version = f"holidays-{metadata.version('holidays')}+ov.{digest}"

    @property
    def overrides(self) -> tuple[CalendarOverride, ...]:
        return tuple(sorted(self._overrides.values(), key=lambda o: o.day))

    def _year_days_off(self, year: int) -> frozenset[date]:
        cached = self._days_off.get(year)
        if cached is None:
            cached = self._build_year(year)
            self._days_off[year] = cached
        return cached

    def _build_year(self, year: int) -> frozenset[date]:
        # A decree for one year can make a day of the previous year a working one (the 2014
        # New Year bridge was worked on Sat 2013-12-28), so next year's decrees are loaded too.
        base = holidays.country_holidays("KZ", years=(year, year + 1))
        days_off: set[date] = set()
        day = date(year, 1, 1)
        while day.year == year:
            override = self._overrides.get(day)
            if override is not None:
                if override.kind == "day_off":
                    days_off.add(day)
            elif not base.is_working_day(day):
                days_off.add(day)
            day += ONE_DAY
        return frozenset(days_off)

    def is_working_day(self, day: date) -> bool:
        return day not in self._year_days_off(day.year)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += ONE_DAY
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (before it when n < 0); n = 0 rolls `day` forward."""
        if n == 0:
            return day if self.is_working_day(day) else self.next_working_day(day)
        step = ONE_DAY if n > 0 else -ONE_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days after `a` up to and including `b`; negative when `b` is before `a`."""
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a + ONE_DAY
        while day <= b:
            count += self.is_working_day(day)
            day += ONE_DAY
        return count
