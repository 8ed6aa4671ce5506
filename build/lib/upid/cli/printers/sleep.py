"""kube-green and downscaler: sleep schedules for workloads idle on recurring windows, ready to apply.

kube-green's SleepInfo works per namespace, so each one names the namespace's other workloads in
`excludeRef`; kube-downscaler takes a `downscaler/downtime` annotation per workload.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "CronJob": "batch/v1"}
KUBECTL_KINDS = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset"}


def kube_green(items: list[Any], workloads: list[tuple[str, str, str]]) -> str:
    import yaml

    docs = []
    groups: dict[tuple[str, Any], list[Any]] = defaultdict(list)
    for item in items:
        if item.schedule and item.workload_kind in API_VERSIONS:
            groups[(item.namespace, item.schedule)].append(item)
    for (namespace, schedule), members in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1].sleep_at)):
        asleep = {(m.workload_kind, m.workload) for m in members}
        others = sorted(
            (kind, name)
            for ns, kind, name in workloads
            if ns == namespace and kind in API_VERSIONS and (kind, name) not in asleep
        )
        name = "upid-" + "-".join(sorted(m.workload for m in members))[:50]
        spec: dict[str, Any] = {
            "weekdays": schedule.kube_green_weekdays,
            "sleepAt": f"{schedule.sleep_at:02d}:00",
            "wakeUpAt": f"{schedule.wake_up_at:02d}:00",
            "timeZone": schedule.time_zone,
        }
        if others:
            spec["excludeRef"] = [{"apiVersion": API_VERSIONS[k], "kind": k, "name": n} for k, n in others]
        docs.append(
            {
                "apiVersion": "kube-green.com/v1alpha1",
                "kind": "SleepInfo",
                "metadata": {"name": name.rstrip("-"), "namespace": namespace},
                "spec": spec,
            }
        )
    return yaml.safe_dump_all(docs, sort_keys=False) if docs else ""


def downscaler(items: list[Any]) -> str:
    lines = []
    for item in items:
        if item.schedule and item.workload_kind in KUBECTL_KINDS:
            downtime = item.schedule.downscaler_downtime
            lines.append(
                f"kubectl annotate {KUBECTL_KINDS[item.workload_kind]}/{item.workload} -n {item.namespace} "
                f"--overwrite downscaler/downtime='{downtime}'"
            )
    return "\n".join(lines) + ("\n" if lines else "")
