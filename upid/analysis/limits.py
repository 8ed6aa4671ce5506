"""The CPU limit policy applied to every strategy's recommendation: none (the default, as KRR: limits
throttle bursty containers long before a node is short), a percentile of usage, or a multiple of the
recommended request."""

from __future__ import annotations

import math
import re
from dataclasses import replace

from upid.analysis.history import ContainerHistory
from upid.analysis.strategies.base import Recommendation, round_cpu

_POLICY = re.compile(r"^(none|p(\d{1,2}(?:\.\d+)?)|(\d+(?:\.\d+)?)x)$")


def check_policy(policy: str) -> str:
    """`none`, `pNN` (e.g. p99) or `Nx` (e.g. 2x); raises ValueError otherwise."""
    if not _POLICY.match(policy):
        raise ValueError(
            f"invalid CPU limit policy {policy!r}: use none, a percentile like p99, or a multiple "
            "of the request like 2x"
        )
    return policy


def apply_cpu_limit(rec: Recommendation, h: ContainerHistory, policy: str) -> Recommendation:
    m = _POLICY.match(check_policy(policy))
    assert m is not None
    if policy == "none" or rec.cpu_request is None:
        return rec
    if m.group(2):
        limit = round_cpu(h.cpu_percentile(float(m.group(2))))
    else:
        limit = round_cpu(rec.cpu_request * float(m.group(3)))
    limit = max(limit or 0.0, rec.cpu_request)  # a limit below the request is invalid in Kubernetes
    return replace(rec, cpu_limit=math.ceil(limit * 1000) / 1000)
