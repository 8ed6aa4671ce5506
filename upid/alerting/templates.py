"""Annotation templates, the part of Prometheus' syntax alerts use: {{ $labels.NAME }}, {{ $value }} and
{{ $value | humanize }} (and `$labels` written as `.Labels`, `$value` as `.Value`). Anything else is an error
when the rules are read, not when an alert fires."""

from __future__ import annotations

import re

FIELD = re.compile(r"\{\{\s*(.*?)\s*\}\}")
LABEL = re.compile(r"^(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)$")
VALUE = re.compile(r"^(?:\$value|\.Value)(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration))?$")


def problems(text: str) -> list[str]:
    return [f"unknown template {{{{ {m.group(1)} }}}}" for m in FIELD.finditer(text)
            if not (LABEL.match(m.group(1)) or VALUE.match(m.group(1)))]  # fmt: skip


def humanize(value: float) -> str:
    """Prometheus' humanize: SI prefixes, 4 significant digits."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.4g}{prefix}"
    return f"{value:.4g}"


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return " ".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n) or "0s"


def render(text: str, labels: dict[str, str], value: float) -> str:
    def one(m: re.Match[str]) -> str:
        field = m.group(1)
        if label := LABEL.match(field):
            return labels.get(label.group(1), "")
        v = VALUE.match(field)
        how = v.group(1) if v else None
        if how == "humanize":
            return humanize(value)
        if how == "humanizePercentage":
            return f"{value * 100:.4g}%"
        if how == "humanizeDuration":
            return _duration(value)
        return f"{value:g}"

    return FIELD.sub(one, text)
