"""upid: find wasted Kubernetes capacity from the cluster's own history, and take it back safely."""

__version__ = "0.1.0"


def build_commit() -> str | None:
    """The commit a binary was built from (build/build.sh writes upid/_build.py); None from a source checkout."""
    try:
        from upid._build import COMMIT  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(COMMIT)
