"""`optimize -o patch|json-patch|kubectl`: a plan as files a GitOps repository takes, or as commands."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upid.errors import OutputError

if TYPE_CHECKING:
    from upid.cli.session import Session


def _file_name(change: Any) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{change.namespace}-{change.kind.lower()}-{change.name}")
    return f"{safe}.yaml"


def write(s: Session, plan: Any, order: dict[Any, list[str]], fmt: str, out: Path | None, context: str | None) -> None:
    import yaml

    from upid.optimize import patches

    if fmt == "kubectl":
        for change in plan.changes:
            s.out.write("\n".join(patches.kubectl(change, context)) + "\n")
        return
    if fmt == "json-patch":
        ops = [
            {
                "namespace": c.namespace,
                "kind": c.kind,
                "name": c.name,
                "path": patches.object_path(c.namespace, c.kind, c.name),
                "patch": patches.json_patch(c, order.get(c.key, [])),
            }
            for c in plan.changes
        ]
        s.out.write(json.dumps(ops, indent=2) + "\n")
        return
    documents = {_file_name(c): patches.gitops_patch(c) for c in plan.changes}
    if out is None:
        s.out.write(yaml.safe_dump_all(documents.values(), sort_keys=False) if documents else "")
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, doc in documents.items():
            (out / name).write_text(yaml.safe_dump(doc, sort_keys=False))
        kustomization = patches.kustomization(sorted(documents))
        (out / "kustomization.yaml").write_text(
            "# Patches from `upid optimize`: list the manifests they apply to under `resources:`.\n"
            + yaml.safe_dump(kustomization, sort_keys=False)
        )
    except OSError as e:
        raise OutputError(f"cannot write patches to {out}: {e.strerror}") from e
    s.notice(f"wrote {len(documents)} patch(es) and kustomization.yaml to {out}")
