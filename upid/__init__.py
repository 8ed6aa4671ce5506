"""upid: find wasted Kubernetes capacity from the cluster's own history, and take it back safely."""

__version__ = "0.1.0"
