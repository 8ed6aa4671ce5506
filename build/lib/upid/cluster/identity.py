"""Who the cluster is: a stable id (the kube-system namespace UID) and its distribution and provider."""

from __future__ import annotations

from upid.inventory import NodeRecord

_PROVIDER_OF = {"eks": "aws", "gke": "gcp", "aks": "azure"}


def detect_distribution(version: str, server: str, nodes: list[NodeRecord]) -> tuple[str, str | None]:
    """From the server version, its URL, node labels and providerIDs; 'generic' when nothing matches."""
    labels = {k: v for n in nodes for k, v in n.labels.items()}
    provider_ids = " ".join(n.provider_id or "" for n in nodes)
    names = {n.name for n in nodes}
    checks = [
        ("openshift", any(k.startswith("node.openshift.io/") for k in labels) or "openshift" in version.lower()),
        (
            "eks",
            "-eks-" in version
            or "eks.amazonaws.com" in server
            or any(k.startswith("eks.amazonaws.com/") for k in labels),
        ),
        ("gke", "-gke." in version or any(k.startswith("cloud.google.com/gke") for k in labels)),
        ("aks", "azmk8s.io" in server or any(k.startswith("kubernetes.azure.com/") for k in labels)),
        ("k3s", "+k3s" in version or "k3s://" in provider_ids),
        ("kind", "kind://" in provider_ids),
        ("minikube", any(k.startswith("minikube.k8s.io/") for k in labels)),
        ("docker-desktop", "docker-desktop" in names),
    ]
    distribution = next((name for name, hit in checks if hit), "generic")
    provider = _PROVIDER_OF.get(distribution)
    if provider is None:
        for prefix, name in (("aws://", "aws"), ("gce://", "gcp"), ("azure://", "azure")):
            if prefix in provider_ids:
                provider = name
    return distribution, provider
