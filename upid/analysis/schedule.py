"""Recurring idle windows (nights, weekends) and the sleep schedule that fits them.

An hour of a weekday is sleepable when the workload was idle (every sample under 5 % of its CPU request,
network under a threshold) in that hour on at least 90 % of the weeks observed, with at least two weeks seen.
The schedule is the longest run of sleepable hours (at least 4) shared by a set of days, in the
configured time zone, proposed only when the window was seen on enough days (weekends alone give few):
what kube-green's SleepInfo and kube-downscaler's `downtime` express. The thresholds are the ones chosen
out of sample in docs/idle.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from upid.analysis.history import ContainerHistory, present

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MIN_WEEKS = 2
MIN_HOURS = 4


@dataclass(frozen=True)
class Schedule:
    days: tuple[int, ...]  # 0 = Monday
    sleep_at: int  # hour of day, local time
    wake_up_at: int
    time_zone: str
    hours_per_week: int
    weeks_observed: int

    @property
    def kube_green_weekdays(self) -> str:
        """kube-green counts Sunday as 0: "1-5" is Monday to Friday."""
        names = sorted((d + 1) % 7 for d in self.days)
        if names == list(range(names[0], names[-1] + 1)) and len(names) > 1:
            return f"{names[0]}-{names[-1]}"
        return ",".join(str(n) for n in names)

    @property
    def downscaler_downtime(self) -> str:
        """kube-downscaler's `downtime`: a window across midnight becomes two ranges, the evening on the
        schedule's days and the morning on the days after them."""
        zone, start, end = self.time_zone, f"{self.sleep_at:02d}:00", f"{self.wake_up_at:02d}:00"
        if self.sleep_at < self.wake_up_at:
            return ",".join(f"{r} {start}-{end} {zone}" for r in day_ranges(self.days))
        ranges = [f"{r} {start}-23:59 {zone}" for r in day_ranges(self.days)]
        if self.wake_up_at:
            mornings = tuple((d + 1) % 7 for d in self.days)
            ranges += [f"{r} 00:00-{end} {zone}" for r in day_ranges(mornings)]
        return ",".join(ranges)

    def to_dict(self) -> dict[str, object]:
        return {
            "days": [DAY_NAMES[d] for d in self.days],
            "sleep_at": f"{self.sleep_at:02d}:00",
            "wake_up_at": f"{self.wake_up_at:02d}:00",
            "time_zone": self.time_zone,
            "hours_per_week": self.hours_per_week,
            "weeks_observed": self.weeks_observed,
        }


def day_ranges(days: tuple[int, ...]) -> list[str]:
    """Contiguous runs of days as kube-downscaler writes them ("Mon-Fri", "Sun-Sun"); it knows no lists."""
    ordered, runs = sorted(days), []
    start = prev = ordered[0]
    for d in [*ordered[1:], None]:
        if d is not None and d == prev + 1:
            prev = d
            continue
        runs.append(f"{DAY_NAMES[start]}-{DAY_NAMES[prev]}")
        if d is not None:
            start = prev = d
    return runs


def window_text(days: tuple[int, ...], sleep_at: str, wake_up_at: str, zone: str, dash: str = "-") -> str:
    """A sleep window as people read it: "Mon-Fri 20:00-08:00 Europe/Berlin", a lone day as "Sun"."""
    runs = [r.split("-") for r in day_ranges(days)]
    names = ",".join(a if a == b else f"{a}-{b}" for a, b in runs)
    return f"{names} {sleep_at}{dash}{wake_up_at} {zone}"


def _offset(epoch: int, zone: ZoneInfo) -> int:
    delta = datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def _local_hours(ts: np.ndarray, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """(weekday 0=Monday, hour) of each timestamp in the zone, its offset taken once per day."""
    days = ts // 86400
    first = int(days.min()) if len(days) else 0
    offsets = np.array([_offset(d * 86400 + 43200, zone) for d in range(first, int(days.max(initial=first)) + 1)])
    local = ts + offsets[days - first]
    return ((local // 86400 + 3) % 7).astype(int), ((local % 86400) // 3600).astype(int)  # 1970-01-01: Thursday


def _busy(h: ContainerHistory, burst_share: float, network: float) -> np.ndarray:
    request = h.current.get("cpu_request") or 0.1
    busy = h.cpu_peaks > burst_share * request  # rolled up: an hour is busy when its peak is
    if h.network is not None:
        busy |= np.nan_to_num(h.network, nan=0.0) > network
    return busy


def _longest_run(hours: set[int]) -> tuple[int, int] | None:
    """Longest circular run of hours: (start, length)."""
    if not hours or len(hours) == 24:
        return None
    best = None
    for start in hours:
        if (start - 1) % 24 in hours:
            continue
        length = 0
        while (start + length) % 24 in hours:
            length += 1
        if best is None or length > best[1]:
            best = (start, length)
    return best


def _evidence(seen: np.ndarray, days: tuple[int, ...], run: tuple[int, int]) -> int:
    """Days on which the whole window was observed: per weekday, the fewest weeks any of its hours was seen.
    Two weekends are four days of evidence; two weeks of every night, fourteen."""
    start, length = run
    return sum(min(int(seen[d * 24 + (start + i) % 24]) for i in range(length)) for d in days)


def recurring(
    members: list[ContainerHistory],
    time_zone: str = "UTC",
    burst_share: float = 0.05,
    network: float = 2048.0,
    share: float = 0.9,
    min_days: int = 0,
) -> Schedule | None:
    """The sleep schedule of a workload idle on a recurring window, or None. `min_days`: how many days the
    window must have been seen (summed over its weekdays) for the schedule to be proposed."""
    zone = ZoneInfo(time_zone)
    ts = np.concatenate([h.ts for h in members])
    busy = np.concatenate([_busy(h, burst_share, network) for h in members])
    weekday, hour = _local_hours(ts, zone)
    week = ts // (7 * 86400)
    weeks = len(present(week - week.min())) if len(week) else 0
    if weeks < MIN_WEEKS + 1:  # two whole weeks at least: partial ones at both ends
        return None
    key = (week * 7 + weekday) * 24 + hour
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    uniq = ordered[first]
    hour_busy = np.maximum.reduceat(busy[order].astype(int), first).astype(bool)
    slot = uniq % (7 * 24)  # weekday * 24 + hour
    idle_share = np.bincount(slot, weights=~hour_busy, minlength=168) / np.maximum(np.bincount(slot, minlength=168), 1)
    seen = np.bincount(slot, minlength=168)
    sleepable = (idle_share >= share) & (seen >= MIN_WEEKS)
    best = None
    for days in ((0, 1, 2, 3, 4, 5, 6), (0, 1, 2, 3, 4), (5, 6)):
        common = {h for h in range(24) if all(sleepable[d * 24 + h] for d in days)}
        run = _longest_run(common)
        if not run or run[1] < MIN_HOURS or _evidence(seen, days, run) < min_days:
            continue
        if best is None or run[1] * len(days) > best[1][1] * len(best[0]):
            best = (days, run)
    if best is None:
        return None
    days, (start, length) = best
    return Schedule(
        days=days,
        sleep_at=start,
        wake_up_at=(start + length) % 24,
        time_zone=time_zone,
        hours_per_week=length * len(days),
        weeks_observed=weeks,
    )
