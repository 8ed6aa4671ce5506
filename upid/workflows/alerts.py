"""`upid alerts`: the rules evaluated on every stored cluster now (or at --until), their states carried over
from the last run through the store, and the result sent to Alertmanager or a webhook."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from upid.alerting.engine import AlertState, step
from upid.alerting.kinds import CONDITIONS, Facts, Instance, inline_source
from upid.alerting.rules import Rule, RuleFile, RulesInvalid, parse_file
from upid.analysis.budget import EVERY, Budget
from upid.errors import InputError, UpidError, UsageError
from upid.settings import Settings
from upid.store.base import Store
from upid.workflows.requests import Query, idle_policy, rightsizing_request


@dataclass
class Evaluation:
    at: int
    rules: list[Rule]
    states: list[AlertState]
    errors: dict[str, str] = field(default_factory=dict)  # cluster -> why its analysis could not be read


def rules_text(path: Path | None, home: Path) -> tuple[str, str]:
    """The rules' text and where it came from: --rules, else UPID_HOME/alerts.yaml, else the shipped defaults."""
    chosen = path or (home / "alerts.yaml" if (home / "alerts.yaml").exists() else None)
    if chosen is None:
        return (resources.files("upid.data") / "alerts" / "default.yaml").read_text(), "the default rules"
    try:
        return chosen.read_text(encoding="utf-8"), str(chosen)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the rules file {chosen}: {getattr(e, 'strerror', None) or e}") from None


def load_rules(path: Path | None, home: Path) -> RuleFile:
    text, source = rules_text(path, home)
    try:
        return parse_file(text, source)
    except RulesInvalid as e:
        raise UsageError(e.problems[0] + (f" (and {len(e.problems) - 1} more)" if len(e.problems) > 1 else ""),
                         hint=f"upid alerts test {source} lists every problem") from None  # fmt: skip


def budgets_of(settings: Settings, rules: RuleFile) -> list[Budget]:
    """What the budget rules check: config.toml's and the rules file's budgets, and each budget rule's own."""
    inline = {inline_source(r.params): r.params for r in rules.rules if r.kind == "budget" and r.params["monthly"]}
    own = [Budget("namespaces" if p["per"] == "namespace" else "cluster", float(p["monthly"]),
                  namespace=EVERY if p["per"] == "namespace" else None, source=key)
           for key, p in inline.items()]  # fmt: skip
    return [*settings.budgets, *rules.budgets, *own]


def _facts(
    store: Store, settings: Settings, cluster: str, now: int, history: str, until: str | None, budgets: list[Budget]
) -> Facts:
    from upid.analysis.capacity import capacity
    from upid.analysis.document import analysis_document
    from upid.workflows.analyze import run
    from upid.workflows.budgets import month_status

    last = store.extent(cluster).last
    try:
        request = rightsizing_request(settings, store, Query(cluster=cluster, history=history, until=until), "upid")
        a = run(store, request, idle_policy(settings))
        trends = capacity(a.containers, a.window.nodes, a.frame.start, a.frame.end)
        month = month_status(store, settings, cluster, now, budgets, analysis=a) if budgets else []
        doc = analysis_document(a.report, a.idle)
        return Facts(cluster, now, doc, a.containers, trends, last, a.window, month)
    except UpidError as e:  # no samples in the window: collect_stale still has something to say
        return Facts(cluster, now, last_sample=last, error=e.message)


def _state(row: dict[str, object]) -> AlertState:
    return AlertState(**{k: row[k] for k in AlertState.__dataclass_fields__ if k in row})  # type: ignore[arg-type]


def evaluate(
    store: Store, settings: Settings, file: RuleFile, clusters: list[str] | None, history: str, until: str | None
) -> Evaluation:
    from upid.units import parse_timestamp

    now = int(parse_timestamp(until)) if until else int(time.time())
    known = store.clusters()
    chosen = clusters or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        from upid.errors import NoDataError

        raise NoDataError(
            f"no cluster {unknown[0]!r} in the store", hint=f"known clusters: {', '.join(known) or 'none'}"
        )
    rules = file.rules
    budgets = budgets_of(settings, file) if any(r.kind == "budget" for r in rules) else []
    active: list[tuple[Rule, Instance]] = []
    errors: dict[str, str] = {}
    with store.snapshot():
        previous = {s.fingerprint: s for s in map(_state, store.alert_states())}
        for cluster in chosen:
            facts = _facts(store, settings, cluster, now, history, until, budgets)
            if facts.error:
                errors[cluster] = facts.error
            for rule in rules:
                active += [(rule, i) for i in CONDITIONS[rule.kind](facts, rule.params)]
    here = {fp: s for fp, s in previous.items() if s.cluster in chosen}
    names = {r.alert for r in rules}
    mine = {fp: s for fp, s in here.items() if s.alert in names}
    states = step(mine, active, now)
    kept = {s.fingerprint for s in states}
    # what is no longer active, and the alerts of rules no longer in the file (Prometheus drops those too)
    gone = [AlertState(**{**asdict(s), "state": "inactive"}) for fp, s in here.items() if fp not in kept]
    store.save_alert_states([asdict(s) for s in (*states, *gone)])
    return Evaluation(now, rules, states, errors)


def last_states(store: Store) -> list[AlertState]:
    return [_state(r) for r in store.alert_states()]
