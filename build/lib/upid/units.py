"""Units: durations, timestamps and human formatting of CPU, memory and counts, in one place."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from upid.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = 100 * 365 * 86400
EARLIEST, LATEST = 946_684_800, 95_617_584_000  # 2000-01-01 and 5000-01-01 (the store's documented range)


def parse_duration(text: str) -> int:
    """'14d', '36h', '90m', '2w', '30s' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"invalid duration {text!r}: use a number and one of s, m, h, d, w (e.g. 14d)")
    seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"invalid duration {text!r}: must be positive")
    if seconds < 1:
        raise UsageError(f"invalid duration {text!r}: at least 1s")
    if seconds > MAX_DURATION:
        raise UsageError(f"invalid duration {text!r}: at most 100 years")
    return int(seconds)


def parse_timestamp(text: str) -> int:
    """ISO-8601 (UTC unless an offset is given) or UNIX seconds -> UNIX seconds."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"invalid timestamp {text!r}: use ISO-8601 (2026-01-31T12:00:00Z) or UNIX seconds"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    if not (math.isfinite(seconds) and EARLIEST <= seconds < LATEST):
        raise UsageError(f"invalid timestamp {text!r}: must be between 2000-01-01 and 5000-01-01")
    return int(seconds)


def iso(ts: float | None) -> str | None:
    """UNIX seconds -> ISO-8601 UTC with a Z, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_cpu(cores: float | None) -> str:
    """Cores as kubectl writes them: '250m' below one core, '1.5' above."""
    if cores is None or (isinstance(cores, float) and math.isnan(cores)):
        return "-"
    if cores < 1:
        return f"{round(cores * 1000)}m"
    return f"{cores:.2f}".rstrip("0").rstrip(".")


def format_bytes(value: float | None) -> str:
    """Bytes in binary units as Kubernetes writes them: '512Mi', '1.5Gi'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for unit, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if abs(value) >= size:
            number = value / size
            return f"{number:.0f}{unit}" if number >= 100 else f"{number:.3g}{unit}"
    return f"{value:.0f}"


def format_count(n: int) -> str:
    return f"{n:,}"


_SUFFIX = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
# Kubernetes' quantity grammar (apimachinery resource.Quantity): a signed decimal number (ASCII digits) and then
# either a binary or decimal SI suffix, or a decimal exponent, not both ("1e3Mi" is not a quantity).
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(
    rf"^(?P<number>{_NUMBER})(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?$",
    re.ASCII,
)


def parse_quantity(text: object) -> float:
    """A Kubernetes quantity ('250m', '1.5', '512Mi', '704595n', '1e3') -> its value in base units
    (cores for CPU, bytes for memory). The one place quantity strings are parsed. Usage, requests, limits and
    capacities are never negative and always finite: anything else raises ValueError, whatever its type."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"invalid Kubernetes quantity {text!r}")
    if isinstance(text, str):
        match = _QUANTITY.match(text.strip())
        if not match:
            raise ValueError(f"invalid Kubernetes quantity {text!r}")
        exponent = match["exponent"]
        if exponent:  # float() of the whole text: a huge exponent is inf, then refused, never an OverflowError
            value = float(f"{match['number']}e{exponent}")
        else:
            value = float(match["number"]) * _SUFFIX[match["suffix"] or ""]
    else:
        value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"quantity {text!r} is {'negative' if value < 0 else 'not finite'}")
    return value


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount: float | None, currency: str = "USD") -> str:
    """'$12.40', '-$3.10', '12.40 CHF'."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{abs(amount):,.2f}" if symbol else f"{sign}{abs(amount):,.2f} {currency}"


def cpu_quantity(cores: float) -> str:
    """Cores as an exact quantity for a patch: whole millicores ('120m'), or whole cores ('2')."""
    milli = max(1, round(cores * 1000))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_quantity(value: float) -> str:
    """Bytes as an exact quantity for a patch: Mi or Ki when the value is a whole number of them."""
    n = int(round(value))
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)
