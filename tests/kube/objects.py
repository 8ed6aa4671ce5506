"""JSON of the test cluster's objects, with the fields and shapes of the real API (see the captures in
../shared/data/k8s-fixtures); tests/test_kube_server.py validates them against the Kubernetes schemas."""

from __future__ import annotations

from typing import Any

from kube.model import CREATED, Cluster, Pod, Workload, _time, _uid

API_GROUP = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def meta(c: Cluster, kind: str, name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    m = {
        "name": name,
        "uid": _uid(c.name, kind, namespace, name),
        "resourceVersion": str(1000 + c.step),
        "creationTimestamp": CREATED,
    }
    if namespace is not None:
        m["namespace"] = namespace
    m.update({k: v for k, v in extra.items() if v})
    return m


def namespace(c: Cluster, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(c, "Namespace", name),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node(c: Cluster, name: str) -> dict[str, Any]:
    i = c.node_names.index(name)
    spot = i % 3 == 2
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "e2-standard-4" if i % 2 else "n2-standard-8",
        "topology.kubernetes.io/region": "us-central1",
        "topology.kubernetes.io/zone": f"us-central1-{'abc'[i % 3]}",
        "cloud.google.com/gke-nodepool": "default-pool",
    }
    if spot:
        labels["cloud.google.com/gke-spot"] = "true"
    cpu, mem = ("4", "16393236Ki") if i % 2 else ("8", "32880796Ki")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(c, "Node", name, labels=labels),
        "spec": {"podCIDR": f"10.4.{i}.0/24", "providerID": f"gce://upid-test/us-central1-{'abc'[i % 3]}/{name}"},
        "status": {
            "capacity": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "98831908Ki"},
            "allocatable": {
                "cpu": f"{int(cpu) * 1000 - 70}m",
                "memory": mem,
                "pods": "110",
                "ephemeral-storage": "47093746742",
            },
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": _time(c.now),
                    "lastTransitionTime": CREATED,
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"10.128.0.{10 + i}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _uid("machine", name).replace("-", ""),
                "systemUUID": _uid("system", name),
                "bootID": _uid("boot", name),
                "kernelVersion": "6.1.100+",
                "osImage": "Container-Optimized OS from Google",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.33.5-gke.1000",
                "kubeProxyVersion": "v1.33.5-gke.1000",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _container_spec(w: Workload, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"registry.example/{w.name}-{name}:1.0",
        "resources": w.resources[name],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def _template(w: Workload) -> dict[str, Any]:
    return {
        "metadata": {"labels": w.labels},
        "spec": {
            "containers": [_container_spec(w, n) for n in w.containers],
            "restartPolicy": "OnFailure" if w.kind == "CronJob" else "Always",
            "dnsPolicy": "ClusterFirst",
        },
    }


def workload(c: Cluster, w: Workload) -> dict[str, Any]:
    m = meta(c, w.kind, w.name, w.namespace, labels=w.labels, annotations=w.annotations)
    if w.rv:
        m["resourceVersion"] = str(w.rv)
    selector = {"matchLabels": {"app": w.name}}
    if w.kind == "CronJob":
        spec: dict[str, Any] = {"schedule": "*/30 * * * *", "jobTemplate": {"spec": {"template": _template(w)}}}
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": m, "spec": spec, "status": {}}
    spec = {"selector": selector, "template": _template(w)}
    status: dict[str, Any] = {}
    if w.kind == "DaemonSet":
        n = len(c.node_names)
        status = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0, "numberReady": n}
    else:
        spec["replicas"] = w.replicas
        status = {"replicas": w.replicas, "readyReplicas": w.replicas}
        if w.kind == "StatefulSet":
            spec["serviceName"] = w.name
    return {"apiVersion": "apps/v1", "kind": w.kind, "metadata": m, "spec": spec, "status": status}


def scale(c: Cluster, w: Workload) -> dict[str, Any]:
    """The scale subresource (autoscaling/v1 Scale) of a Deployment or StatefulSet."""
    m = meta(c, w.kind, w.name, w.namespace)
    if w.rv:
        m["resourceVersion"] = str(w.rv)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": w.replicas},
        "status": {"replicas": w.replicas, "selector": f"app={w.name}"},
    }


def _owner(c: Cluster, kind: str, name: str, namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": API_GROUP[kind],
            "kind": kind,
            "name": name,
            "uid": _uid(c.name, kind, namespace, name),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def intermediates(c: Cluster) -> dict[str, list[dict[str, Any]]]:
    """The ReplicaSets and Jobs between pods and their Deployments and CronJobs."""
    out: dict[str, list[dict[str, Any]]] = {"ReplicaSet": [], "Job": []}
    seen = set()
    for p in c.pods:
        if p.owner_kind not in out or (p.owner_kind, p.namespace, p.owner_name) in seen:
            continue
        seen.add((p.owner_kind, p.namespace, p.owner_name))
        w = p.workload
        m = meta(
            c,
            p.owner_kind,
            p.owner_name,
            p.namespace,
            labels=w.labels,
            ownerReferences=_owner(c, w.kind, w.name, w.namespace),
        )
        if p.owner_kind == "ReplicaSet":
            out["ReplicaSet"].append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": m,
                    "spec": {
                        "replicas": w.replicas,
                        "selector": {"matchLabels": {"app": w.name}},
                        "template": _template(w),
                    },
                    "status": {"replicas": w.replicas},
                }
            )
        else:
            out["Job"].append(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": m,
                    "spec": {"template": _template(w)},
                    "status": {"active": 1},
                }
            )
    return out


def pod(c: Cluster, p: Pod) -> dict[str, Any]:
    owners = _owner(c, p.owner_kind, p.owner_name, p.namespace) if p.owner_kind else None
    m = meta(
        c,
        "Pod",
        p.name,
        p.namespace,
        labels=p.workload.labels,
        ownerReferences=owners,
        generateName=p.name.rsplit("-", 1)[0] + "-" if p.owner_kind else None,
    )
    statuses = []
    for name in p.workload.containers:
        last: dict[str, Any] = {}
        if p.oom_at and name == "app":
            last = {
                "terminated": {
                    "exitCode": 137,
                    "reason": "OOMKilled",
                    "startedAt": CREATED,
                    "finishedAt": p.oom_at,
                    "containerID": f"containerd://{_uid('old', p.name)}",
                }
            }
        statuses.append(
            {
                "name": name,
                "state": {"running": {"startedAt": CREATED}},
                "lastState": last,
                "ready": True,
                "restartCount": p.restarts if name == "app" else 0,
                "image": f"registry.example/{p.workload.name}-{name}:1.0",
                "imageID": f"registry.example/{p.workload.name}-{name}@sha256:{'0' * 64}",
                "containerID": f"containerd://{_uid(p.name, name).replace('-', '')}",
                "started": True,
            }
        )
    shape = p.workload.shape
    qos = "Guaranteed" if shape.get("limits") == shape.get("requests") else "Burstable"
    i = c.node_names.index(p.node)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": m,
        "spec": {
            **_template(p.workload)["spec"],
            "nodeName": p.node,
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default",
        },
        "status": {
            "phase": "Running",
            "hostIP": f"10.128.0.{10 + i}",
            "podIP": f"10.4.{i}.{2 + c.pods.index(p) % 250}",
            "startTime": CREATED,
            "qosClass": qos,
            "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": CREATED}],
        },
    }


def hpa(c: Cluster, w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(c, "HorizontalPodAutoscaler", w.name, w.namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": w.kind, "name": w.name},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {"currentReplicas": w.replicas, "desiredReplicas": w.replicas},
    }


def pdb(c: Cluster, w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(c, "PodDisruptionBudget", w.name, w.namespace),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": w.name}}},
        "status": {
            "currentHealthy": w.replicas,
            "desiredHealthy": 1,
            "disruptionsAllowed": w.replicas - 1,
            "expectedPods": w.replicas,
            "observedGeneration": 1,
        },
    }


def pod_metrics(c: Cluster, p: Pod) -> dict[str, Any]:
    """PodMetrics as metrics-server v0.3-0.7 serves them: nanocores and Ki, a 30 s window."""
    containers = []
    for name in p.workload.containers:
        cores, mem = c.usage(p, name)
        containers.append({"name": name, "usage": {"cpu": f"{int(cores * 1e9)}n", "memory": f"{int(mem / 1024)}Ki"}})
    return {
        "metadata": {
            "name": p.name,
            "namespace": p.namespace,
            "creationTimestamp": _time(c.now),
            "labels": p.workload.labels,
        },
        "timestamp": _time(c.now - 15),
        "window": "30s",
        "containers": containers,
    }


def summary(c: Cluster, node_name: str) -> dict[str, Any]:
    """The kubelet's /stats/summary for one node: cumulative CPU core-ns, working set, pod network bytes."""
    pods = []
    for p in c.pods_by_node.get(node_name, []):
        containers = []
        for name in p.workload.containers:
            cores, mem = c.usage(p, name)
            containers.append(
                {
                    "name": name,
                    "startTime": CREATED,
                    "cpu": {
                        "time": _time(c.now),
                        "usageNanoCores": int(cores * 1e9),
                        "usageCoreNanoSeconds": int(c.cpu_ns.get((p.name, name), 0.0)),
                    },
                    "memory": {
                        "time": _time(c.now),
                        "usageBytes": int(mem * 1.2),
                        "workingSetBytes": int(mem),
                        "rssBytes": int(mem * 0.9),
                        "pageFaults": 1000,
                        "majorPageFaults": 0,
                    },
                }
            )
        rx, tx = c.net.get(p.name, (0.0, 0.0))
        pods.append(
            {
                "podRef": {"name": p.name, "namespace": p.namespace, "uid": _uid(c.name, "Pod", p.namespace, p.name)},
                "startTime": CREATED,
                "containers": containers,
                "network": {
                    "time": _time(c.now),
                    "name": "eth0",
                    "rxBytes": int(rx),
                    "txBytes": int(tx),
                    "rxErrors": 0,
                    "txErrors": 0,
                },
            }
        )
    return {"node": {"nodeName": node_name, "startTime": CREATED}, "pods": pods}
