"""The PromQL upid asks: cAdvisor usage and kube-state-metrics requests, limits, owners and OOM kills.

Every query is limited to one group of namespaces (`NS` below), so a query covers a bounded number of series.
Tests run the same strings against a real Prometheus and compare its answers with what upid stored.
"""

from __future__ import annotations

import re

CONTAINER = 'container!="", container!="POD"'


def namespaces_matcher(namespaces: list[str]) -> str:
    """A label matcher for exactly these namespaces."""
    return "namespace=~" + '"' + "|".join(re.escape(n).replace("\\", "\\\\") for n in sorted(namespaces)) + '"'


BY_CONTAINER = "by (namespace, pod, container)"


RESOURCES = ("requests", "limits")  # asked at a coarser step: they change rarely


def usage(ns: str, window: str, extra: str = "", kills_window: str | None = None) -> dict[str, str]:
    """Range queries by (namespace, pod, container); network by (namespace, pod). `extra`: more label matchers.

    `kills_window` (default: `window`) should be at least a step plus a scrape interval: `increase()` sees a
    counter's jump only when a window holds a sample from before it and one from after it."""
    m = f"{ns}{extra}"
    kills_window = kills_window or window
    res = 'resource=~"cpu|memory"'
    by_resource = "by (namespace, pod, container, resource)"
    return {
        "cpu": f"sum {BY_CONTAINER} (rate(container_cpu_usage_seconds_total{{{CONTAINER}, {m}}}[{window}]))",
        "memory": f"max {BY_CONTAINER} (container_memory_working_set_bytes{{{CONTAINER}, {m}}})",
        "rx": f"sum by (namespace, pod) (rate(container_network_receive_bytes_total{{{m}}}[{window}]))",
        "tx": f"sum by (namespace, pod) (rate(container_network_transmit_bytes_total{{{m}}}[{window}]))",
        "requests": f"max {by_resource} (kube_pod_container_resource_requests{{{res}, {m}}})",
        "limits": f"max {by_resource} (kube_pod_container_resource_limits{{{res}, {m}}})",
        # a point wherever the container restarted within the window before it and its last termination was an OOM
        "oom": f'max {BY_CONTAINER} (kube_pod_container_status_last_terminated_reason{{reason="OOMKilled", {m}}})'
        f" and on (namespace, pod, container) "
        f"(max {BY_CONTAINER} (increase(kube_pod_container_status_restarts_total{{{m}}}[{kills_window}])) > 0)",
    }


def containers(extra: str = "") -> str:
    """Series selector of the containers to import (for /api/v1/series: which namespaces, how many containers)."""
    return f"container_memory_working_set_bytes{{{CONTAINER}{extra}}}"


def owners(ns: str, extra: str = "") -> dict[str, str]:
    """Series selectors for /api/v1/series: who owns each pod, ReplicaSet and Job, and where pods ran."""
    m = f"{ns}{extra}"
    return {
        "pod": f"kube_pod_owner{{{m}}}",
        "replicaset": f"kube_replicaset_owner{{{m}}}",
        "job": f"kube_job_owner{{{m}}}",
        "node": f"kube_pod_info{{{m}}}",
    }
