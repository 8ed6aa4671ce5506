"""The store interface every backend implements (DuckDB now; PostgreSQL/TimescaleDB later).

Backends take and return plain dataclasses and numpy arrays; they wrap their driver's errors into
upid.errors.StoreError and its subclasses, so callers never see a driver exception.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # keep `upid --help` free of numpy
    from collections.abc import Iterable, Iterator, Mapping

    from upid.analysis.window import ClusterWindow, Node, Scope, Workload, WorkloadKey
    from upid.inventory import Collection
    from upid.samples import SampleBatch


@dataclass(frozen=True)
class WriteResult:
    cluster: str
    received: int  # samples in the batch
    written: int  # samples that were new (the rest were already stored)
    series_created: int
    spooled: bool = False  # the store was busy: the batch waits in the spool for the next writer


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    series: int
    samples: int
    first: int | None  # UNIX seconds
    last: int | None


@dataclass(frozen=True)
class StoreStatus:
    path: Path | str  # a DuckDB file, or a PostgreSQL URL (its password masked)
    schema_version: int
    size_bytes: int  # the database file plus its sample blocks
    clusters: list[ClusterStatus]
    spooled_batches: int

    @property
    def samples(self) -> int:
        return sum(c.samples for c in self.clusters)


@dataclass(frozen=True)
class Extent:
    """The time a cluster's history covers (UNIX seconds; None: no data of that kind)."""

    first: int | None  # the oldest raw sample
    last: int | None  # the newest raw sample: where a window ends by default
    first_hourly: int | None  # the start of the oldest hourly rollup (older than `first` once raw was cleaned up)


@dataclass(frozen=True)
class Removed:
    """What a cleanup removed (or would remove) of one cluster: raw samples, and hourly rollup rows."""

    samples: int
    hourly_rows: int = 0


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: int
    command: str
    cluster: str | None
    user: str
    result: str
    details: dict[str, Any]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class AuditRecord:
    """What a store-changing command tells the audit log about itself."""

    command: str
    args: list[str]
    user: str


@dataclass(frozen=True)
class ChangeRecord:
    """One change `upid optimize` made (or tried to) to one workload: the audit trail and the rollback's input.
    `before`/`after`: {"replicas": int|None, "annotations": {...}, "containers": {name: {cpu_request, ...}}}."""

    run: str
    cluster: str
    context: str | None
    kube_user: str | None
    os_user: str
    namespace: str
    kind: str
    name: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    status: str = "pending"
    message: str | None = None
    rollback_of: int | None = None
    id: int | None = None
    started_at: int | None = None
    finished_at: int | None = None


NODE_COLUMNS = ("name, cpu_capacity, memory_capacity, cpu_allocatable, memory_allocatable, instance_type, region, "
                "zone, capacity_type, provider_id")  # fmt: skip


def node_from_row(r: tuple[Any, ...]) -> Node:
    """A Node from a row of NODE_COLUMNS, then first_seen and last_seen (UNIX seconds): both backends' read."""
    from upid.analysis.window import Node

    def number(value: object) -> float | None:
        return None if value is None else float(value)  # type: ignore[arg-type]

    return Node(name=r[0], cpu_capacity=float(r[1] or 0), memory_capacity=float(r[2] or 0),
                cpu_allocatable=number(r[3]), memory_allocatable=number(r[4]), instance_type=r[5], region=r[6],
                zone=r[7], capacity_type=r[8], provider_id=r[9], first_seen=r[10], last_seen=r[11])  # fmt: skip


def workloads_with_pdbs(
    fields: dict[WorkloadKey, dict[str, Any]], pdbs: Iterable[tuple[Any, ...]]
) -> dict[WorkloadKey, Workload]:
    """Workloads from their stored fields, each with the PDBs whose matchLabels select its labels in its namespace.
    `pdbs`: (namespace, name, min_available, max_unavailable, matchLabels dict, disruptions_allowed) rows."""
    from upid.analysis.window import Pdb, Workload

    for ns, name, lo, hi, match, allowed in pdbs:
        for key, have in fields.items():
            labels = have.get("labels", {})
            if key[0] == ns and match and all(labels.get(k) == v for k, v in match.items()):
                have["pdbs"] = (*have.get("pdbs", ()), Pdb(name, lo, hi, allowed))
    return {key: Workload(**f) for key, f in fields.items()}


def selected_workloads(known: Mapping[WorkloadKey, Workload], selector: str) -> list[WorkloadKey]:
    """The workloads whose labels a kubectl label selector matches (a window's `-l`)."""
    from upid.selectors import matches, parse_selector

    requirements = parse_selector(selector)
    return [key for key, w in known.items() if matches(requirements, dict(w.labels))]


def prepare_export(directory: Path, overwrite: bool) -> None:
    """An empty directory to export into: made, or emptied with `overwrite`; UsageError when it holds files."""
    import shutil

    from upid.errors import UsageError

    if directory.exists() and any(directory.iterdir()):
        if not overwrite:
            raise UsageError(f"{directory} is not empty", hint="choose an empty directory or pass --overwrite")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)


class Store(Protocol):
    """What upid needs from a backend. Each call opens and closes its own connection."""

    def write(self, batch: SampleBatch, audit: AuditRecord) -> WriteResult: ...

    def snapshot(self) -> AbstractContextManager[None]: ...

    def write_many(self, batches: Iterable[SampleBatch], audit: AuditRecord) -> list[WriteResult]: ...

    def status(self) -> StoreStatus: ...

    def clusters(self) -> list[str]: ...

    def extent(self, cluster: str) -> Extent:
        """The time the cluster's raw samples and hourly rollups cover; NoDataError for an unknown cluster."""
        ...

    def sample_times(self, cluster: str, start: int, end: int, namespaces: list[str] | None = None) -> set[int]: ...

    def window(self, cluster: str, start: int, end: int, scope: Scope) -> ClusterWindow:
        """The one read of an analysis: the scoped workloads' usage over (start, end], with the cluster's nodes,
        workloads and events, in typed records (upid.analysis.window)."""
        ...

    def batches(self, cluster: str) -> Iterator[SampleBatch]:
        """The cluster's stored samples as SampleBatches, a group of series at a time (`storage copy`)."""
        ...

    def write_collection(self, collection: Collection, name: str, audit: AuditRecord) -> WriteResult: ...

    def previous_counters(self, uid: str) -> dict[tuple[str, str, str], tuple[int, float, float, float]]: ...

    def cluster_identities(self) -> list[dict[str, object]]: ...

    def cleanup(
        self,
        days_to_keep: int,
        audit: AuditRecord,
        now: float | None = None,
        clusters: list[str] | None = None,
        dry_run: bool = False,
        hourly_days_to_keep: int | None = None,
    ) -> dict[str, Removed]:
        """Raw samples older than `days_to_keep` and hourly rollups older than `hourly_days_to_keep` (None: kept),
        counted back from each cluster's newest sample (never from later than `now`)."""
        ...

    def compact(self, audit: AuditRecord) -> dict[str, int]:
        """Write the hourly rollups of the sample blocks that wait for them: blocks, samples, hourly_rows."""
        ...

    def audit_log(self, limit: int) -> list[AuditEntry]: ...

    def verify(self) -> dict[str, Any]: ...

    def begin_change(self, change: ChangeRecord) -> int: ...

    def end_change(
        self, change_id: int, status: str, message: str | None, after: dict[str, Any] | None = None
    ) -> None: ...

    def changes(self, limit: int = 50, cluster: str | None = None) -> list[ChangeRecord]: ...

    def alert_states(self) -> list[dict[str, Any]]: ...  # upid alerts' states between runs (upid.store.alert_rows)

    def save_alert_states(self, states: list[dict[str, Any]]) -> None: ...

    def query(self, sql: str, timeout: float = 300.0) -> QueryResult:
        """One read-only SELECT over the store's data and nothing else (docs/security.md)."""
        ...

    def export(self, directory: Path, overwrite: bool) -> dict[str, int]: ...
