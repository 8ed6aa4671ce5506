"""The safety rules of `upid optimize`, one function each: a reason to refuse, or None.

Each rule has a name (the `rule` of a skipped change in the plan and in docs/optimize.md) and a test in
tests/test_optimize.py that fails if the rule is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from upid.analysis.backtest import Backtest
from upid.analysis.idle import MIN_CONFIDENCE
from upid.analysis.window import Workload

EXCLUDE_ANNOTATION = "upid.io/exclude"
ORIGINAL_REPLICAS = "upid.io/original-replicas"  # the kube-downscaler convention, in upid's own prefix
ALWAYS_PROTECTED = ("kube-system",)
SCALABLE = ("Deployment", "StatefulSet")  # kinds with a scale subresource
IN_PLACE_ROLLOUT = ("StatefulSet", "DaemonSet")  # a rollout replaces pods without surging a new one first


@dataclass(frozen=True)
class SafetyPolicy:
    protected_namespaces: tuple[str, ...] = ()  # besides kube-system
    allow_hpa: bool = False
    max_cpu_shortfall: float = 0.10  # of the backtest's CPU demand above the recommended request
    max_oom_kills: int = 0  # in the backtest's replay
    min_history_hours: float = 24.0
    min_idle_confidence: float = MIN_CONFIDENCE  # the level idle detection was measured at (docs/idle.md)


def protected_namespace(namespace: str, policy: SafetyPolicy) -> str | None:
    if namespace in ALWAYS_PROTECTED or namespace in policy.protected_namespaces:
        return f"namespace {namespace} is protected"
    return None


def excluded(annotations: Mapping[str, str]) -> str | None:
    if str(annotations.get(EXCLUDE_ANNOTATION, "")).lower() == "true":
        return f'annotated {EXCLUDE_ANNOTATION}: "true"'
    return None


def hpa_resources(workload: Workload, policy: SafetyPolicy) -> set[str]:
    """The resources upid must not set: the ones an HPA scales the workload on (unless --allow-hpa)."""
    hpa = workload.hpa
    return set() if policy.allow_hpa or not hpa else set(hpa.resources)


def hpa_scale_down(workload: Workload, policy: SafetyPolicy) -> str | None:
    hpa = workload.hpa
    if hpa and not policy.allow_hpa:
        return f"HPA {hpa.name} keeps at least {hpa.min_replicas or 1} replica(s) (pass --allow-hpa to override)"
    return None


def pdb_scale_down(workload: Workload) -> str | None:
    """A PodDisruptionBudget that wants pods available forbids scaling them all away."""
    for pdb in workload.pdbs:
        low, high = pdb.min_available, pdb.max_unavailable
        if (low not in (None, "0", "0%")) or high in ("0", "0%"):
            wants = f"minAvailable {low}" if low not in (None, "0", "0%") else f"maxUnavailable {high}"
            return f"PodDisruptionBudget {pdb.name} ({wants}) keeps pods available"
    return None


def pdb_rollout(kind: str, workload: Workload) -> str | None:
    """A resource change rolls pods; StatefulSets and DaemonSets take one down first, which a PDB with no
    disruption left forbids. (Deployments surge a new pod first, so their PDB is not touched.)"""
    if kind not in IN_PLACE_ROLLOUT:
        return None
    for pdb in workload.pdbs:
        if pdb.disruptions_allowed == 0:
            return f"PodDisruptionBudget {pdb.name} allows no disruption now; the rollout would break it"
    return None


def risk(backtest: Backtest | None, policy: SafetyPolicy) -> str | None:
    if not backtest:
        return "no backtest: too little history to measure the risk"
    shortfall, ooms = backtest.cpu_shortfall, backtest.oom_count
    if shortfall is not None and shortfall > policy.max_cpu_shortfall:
        return f"backtested CPU shortfall {shortfall:.1%} is above the limit {policy.max_cpu_shortfall:.1%}"
    if ooms is not None and ooms > policy.max_oom_kills:
        return f"backtest replay had {ooms} OOM kill(s); the limit is {policy.max_oom_kills}"
    return None


def history(hours: float, policy: SafetyPolicy) -> str | None:
    if hours < policy.min_history_hours:
        return f"{hours:.1f} h of history; at least {policy.min_history_hours:g} h are needed"
    return None


def scalable(kind: str) -> str | None:
    return None if kind in SCALABLE else f"a {kind} has no replicas to scale"


def idle_confidence(confidence: float, policy: SafetyPolicy) -> str | None:
    """Scale to zero only on a finding as sure as the level measured out of sample, whatever `idle` was told."""
    if confidence < policy.min_idle_confidence:
        return f"idle confidence {confidence:.2f} is below {policy.min_idle_confidence:.2f}"
    return None
