"""`upid storage pull URL`: a cluster's samples from a `upid serve` (its /api/v1/export), into this store. The
answer is written to a private temporary file and imported as any canonical file is: bad rows counted, and
idempotent, so pulling twice stores nothing twice."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from upid.errors import RemoteError
from upid.store.base import AuditRecord, Store
from upid.workflows.importing import ImportOutcome, import_file

CHUNK = 1 << 20


def export_url(base: str, cluster: str, since: int | None) -> str:
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        from upid.errors import UsageError

        raise UsageError(f"not an http(s) URL: {base!r}")
    query = urllib.parse.urlencode({"cluster": cluster, **({"since": str(since)} if since is not None else {})})
    return urllib.parse.urlunsplit(
        (parsed.scheme, parsed.netloc, parsed.path.rstrip("/") + "/api/v1/export", query, "")
    )


def _shown(url: str) -> str:
    """The URL without credentials or query, for messages."""
    p = urllib.parse.urlsplit(url)
    host = f"[{p.hostname}]" if p.hostname and ":" in p.hostname else p.hostname or ""
    return f"{p.scheme}://{host}{f':{p.port}' if p.port else ''}{p.path}"


def download(url: str, token: str | None, folder: Path, timeout: float) -> Path:
    headers = {"Accept": "application/vnd.apache.parquet"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    fd, name = tempfile.mkstemp(prefix="pull-", suffix=".parquet", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            while chunk := answer.read(CHUNK):
                out.write(chunk)
    except urllib.error.HTTPError as e:
        path.unlink(missing_ok=True)
        detail = _error_text(e)
        raise RemoteError(f"{_shown(url)} answered {e.code}{': ' + detail if detail else ''}", status=e.code) from None
    except (urllib.error.URLError, OSError) as e:
        path.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise RemoteError(f"cannot reach {_shown(url)}: {reason}", hint="is upid serve running there?") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _error_text(e: urllib.error.HTTPError) -> str:
    import orjson

    try:
        return str(orjson.loads(e.read(4096)).get("error", ""))[:200]
    except Exception:
        return ""


def pull(
    store: Store, base: str, cluster: str, since: int | None, token: str | None, folder: Path, audit: AuditRecord,
    timeout: float = 300.0,
) -> ImportOutcome:  # fmt: skip
    path = download(export_url(base, cluster, since), token, folder, timeout)
    try:
        return import_file(store, path, cluster, audit)
    finally:
        path.unlink(missing_ok=True)
