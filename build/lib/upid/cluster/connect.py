"""Which cluster to talk to, resolved as kubectl does: --kubeconfig > KUBECONFIG > ~/.kube/config >
the in-cluster service account; --context > the kubeconfig's current-context."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upid.errors import KubeconfigError


@dataclass(frozen=True)
class Target:
    context: str | None  # None when running in a cluster on its service account
    server: str
    client: Any  # kubernetes.client.ApiClient
    user: str | None = None  # the kubeconfig user of the context (for the audit trail)


def kubeconfig_path(flag: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The kubeconfig file(s) to read (KUBECONFIG may list several, ':'-separated), or None for in-cluster."""
    env = os.environ if environ is None else environ
    if flag:
        if not Path(flag).expanduser().exists():
            raise KubeconfigError(f"Error in configuration: kubeconfig {flag} does not exist")
        return str(Path(flag).expanduser())
    if env.get("KUBECONFIG"):
        return env["KUBECONFIG"]
    default = Path("~/.kube/config").expanduser()
    if default.exists():
        return str(default)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return None
    raise KubeconfigError(
        "Error in configuration: no kubeconfig found (~/.kube/config) and not running inside a cluster",
        hint="set KUBECONFIG or pass --kubeconfig",
    )


def list_contexts(path: str | None) -> tuple[list[str], str | None]:
    """All context names of the kubeconfig and its current-context."""
    import yaml
    from kubernetes import config

    if path is None:
        return [], None
    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as e:
        raise KubeconfigError(f"Error in configuration: {_one_line(e)}") from e
    return [c["name"] for c in contexts or []], (current or {}).get("name")


def target(path: str | None, context: str | None) -> Target:
    """A configured ApiClient for one context (or in-cluster); no request is made yet."""
    import yaml
    from kubernetes import client, config

    configuration = client.Configuration()
    user: str | None = "in-cluster service account"
    try:
        if path is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            names, current = list_contexts(path)
            user = _context_user(path, context or current)
            if context and context not in names:
                raise KubeconfigError(f'context "{context}" does not exist', hint=f"contexts: {', '.join(names)}")
            if not context and not current:
                raise KubeconfigError("Error in configuration: no current-context is set", hint="pass --context")
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
            context = context or current
    except KubeconfigError:
        raise
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as e:
        raise KubeconfigError(f"Error in configuration: {_one_line(e)}") from e
    configuration.retries = False  # upid retries itself, with backoff and Retry-After
    return Target(context=context, server=configuration.host, client=client.ApiClient(configuration), user=user)


def _context_user(path: str, context: str | None) -> str | None:
    from kubernetes import config

    contexts, _ = config.list_kube_config_contexts(config_file=path)
    entry = next((c for c in contexts or [] if c.get("name") == context), None)
    return ((entry or {}).get("context") or {}).get("user")


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
