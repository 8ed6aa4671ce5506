"""Alert rules from YAML, shaped like Prometheus alerting rules where they can be:

    groups:
      - name: upid
        rules:
          - alert: UpidOOMRisk
            kind: oom_risk            # instead of expr: one of upid's built-in conditions
            params: {margin_percent: 10}
            for: 15m
            labels: {severity: critical}
            annotations: {summary: "{{ $labels.workload }} uses {{ $value | humanizePercentage }} of its limit"}

Every problem is reported with its line, all at once (`upid alerts test`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from upid.alerting import templates
from upid.analysis.budget import Budget, parse_budgets
from upid.analysis.top import SCOPES

# kind -> its parameters and their defaults (docs/alerts.md)
KINDS: dict[str, dict[str, Any]] = {
    "oom_risk": {"margin_percent": 10.0},
    "cpu_starved": {"above_request_percent": 25.0, "limit_percent": 90.0},
    "idle": {"min_hours": 24.0, "include_schedules": False},
    "waste": {"min_monthly": 100.0, "per": "workload"},
    "collect_stale": {"intervals": 3, "interval": "5m"},
    "capacity": {"days": 14.0},
    "anomaly": {"scope": "workloads"},
    "budget": {"monthly": 0.0, "per": "cluster", "percent": 100.0},
}
PER = ("workload", "namespace", "cluster")
SEVERITIES = ("info", "warning", "critical")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Rule:
    alert: str
    kind: str
    params: dict[str, Any]
    for_seconds: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    group: str = ""
    line: int = 0

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")


class RulesInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """Each mapping remembers its line (1-based) under the key __line__."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    value = loader.construct_mapping(node, deep=True)
    value["__line__"] = node.start_mark.line + 1
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _duration(value: Any) -> int | None:
    from upid.units import parse_duration

    try:
        return int(parse_duration(str(value)))
    except Exception:
        return None


def _check_params(kind: str, params: dict[str, Any], where: str, out: list[str]) -> dict[str, Any]:
    known = KINDS[kind]
    merged = dict(known)
    for key, value in params.items():
        if key == "__line__":
            continue
        if key not in known:
            out.append(f"{where}: unknown parameter {key!r} of kind {kind}; allowed: {', '.join(known)}")
            continue
        default = known[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                out.append(f"{where}: parameter {key} must be true or false")
                continue
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                out.append(f"{where}: parameter {key} must be a number, at least 0")
                continue
        elif key == "interval" and _duration(value) is None:
            out.append(f"{where}: parameter interval must be a duration such as 5m")
            continue
        elif key == "per" and kind == "budget" and value not in ("cluster", "namespace"):
            out.append(f"{where}: parameter per of a budget must be cluster or namespace")
            continue
        elif key == "per" and value not in PER:
            out.append(f"{where}: parameter per must be one of {', '.join(PER)}")
            continue
        elif key == "scope" and value not in SCOPES:
            out.append(f"{where}: parameter scope must be one of {', '.join(SCOPES)}")
            continue
        merged[key] = value
    return merged


def _strings(value: Any, what: str, where: str, out: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        out.append(f"{where}: {what} must be a mapping")
        return {}
    result = {}
    for k, v in value.items():
        if k == "__line__":
            continue
        if not isinstance(k, str) or not LABEL_NAME.match(k) or k.startswith("__"):
            out.append(f"{where}: {what} name {k!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            continue
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            out.append(f"{where}: {what}.{k} must be a string")
            continue
        result[str(k)] = str(v)
        for p in templates.problems(str(v)) if what == "annotations" else []:
            out.append(f"{where}: annotations.{k}: {p}")
    return result


@dataclass(frozen=True)
class RuleFile:
    rules: list[Rule]
    budgets: list[Budget]  # the file's budgets: section, beside config.toml's


def parse_file(text: str, source: str) -> RuleFile:
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{mark.line + 1}" if mark else "?"
        raise RulesInvalid([f"{source}:{at}: not YAML: {getattr(e, 'problem', None) or e}"]) from None
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise RulesInvalid([f"{source}:1: a rules file is a mapping with a list under groups"])
    for key in sorted(set(doc) - {"groups", "budgets", "__line__"}, key=str):
        problems.append(f"{source}:1: unknown top-level field {key!r}; allowed: groups, budgets")
    budgets, bad = parse_budgets(doc.get("budgets", []), source, "rules")
    problems += bad
    rules: list[Rule] = []
    names: dict[str, int] = {}
    for group in doc["groups"]:
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
            problems.append(f"{source}:{_line(group, doc)}: each group needs a name and a list under rules")
            continue
        for raw in group["rules"]:
            line = _line(raw, group)
            where = f"{source}:{line}"
            if not isinstance(raw, dict):
                problems.append(f"{where}: a rule is a mapping")
                continue
            unknown = set(raw) - {"alert", "kind", "params", "for", "labels", "annotations", "__line__", "expr"}
            for key in sorted(unknown):
                problems.append(f"{where}: unknown field {key!r}")
            if "expr" in raw:
                problems.append(f"{where}: expr is Prometheus'; upid rules name a kind ({', '.join(KINDS)})")
            name, kind = raw.get("alert"), raw.get("kind")
            if not isinstance(name, str) or not name.isidentifier():
                problems.append(f"{where}: alert must be a name (letters, digits, _)")
                continue
            if name in names:
                problems.append(f"{where}: alert {name} is also defined on line {names[name]}")
            names[name] = line
            if kind not in KINDS:
                problems.append(f"{where}: unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
                continue
            params = raw.get("params") or {}
            if not isinstance(params, dict):
                problems.append(f"{where}: params must be a mapping")
                params = {}
            merged = _check_params(kind, params, where, problems)
            wait = 0 if str(raw.get("for", "0")).strip() in ("0", "0s", "0m", "0h") else _duration(raw["for"])
            if wait is None:
                problems.append(f"{where}: for must be a duration such as 15m")
                wait = 0
            labels = _strings(raw.get("labels"), "labels", where, problems)
            if labels.get("severity", "warning") not in SEVERITIES:
                problems.append(f"{where}: labels.severity must be one of {', '.join(SEVERITIES)}")
            annotations = _strings(raw.get("annotations"), "annotations", where, problems)
            rules.append(Rule(name, kind, merged, wait, labels, annotations, str(group.get("name", "")), line))
    if problems:
        raise RulesInvalid(problems)
    return RuleFile(rules, budgets)


def _line(node: Any, parent: Any) -> int:
    if isinstance(node, dict):
        return int(node.get("__line__", 0))
    return int(parent.get("__line__", 0)) if isinstance(parent, dict) else 0
