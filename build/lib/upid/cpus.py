"""How many CPUs this process may really use, so thread pools are sized to it and not to the host.

`os.cpu_count()` counts the node's cores; a pod limited to 500m, a container with a CFS quota or a process
pinned by `taskset` may use far fewer, and OpenMP/BLAS pools sized to the host then oversubscribe (measured:
`upid forecast` 30 s with one thread, 299 s with the default pools on a busy 2-core machine). The answer is,
in order: an explicit `threads` setting, `OMP_NUM_THREADS`, else the smaller of the affinity mask and the
cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the tightest along the
process's cgroup path), rounded down as Go's automaxprocs does, less what the load average says other work
keeps busy now (as `make -l` does), and at least 1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _ancestors(root: Path, relative: str) -> Iterator[Path]:
    """The cgroup folder of the process and each parent up to the mount point (limits nest)."""
    parts = [p for p in relative.strip("/").split("/") if p and p != ".."]
    for n in range(len(parts), -1, -1):
        yield root.joinpath(*parts[:n])


def _v2_quota(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_quota(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        q, p = int(quota or ""), int(period or "")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _cgroup_paths(proc_cgroup: str) -> tuple[str | None, str | None]:
    """(v2 path, v1 cpu controller path) of the process, from /proc/self/cgroup."""
    v2 = v1 = None
    for line in proc_cgroup.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def cgroup_quota(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> float | None:
    """The tightest CPU quota (in CPUs) along the process's cgroup path, or None when unlimited."""
    if proc_cgroup is None:
        proc_cgroup = _read(Path("/proc/self/cgroup")) or ""
    v2, v1 = _cgroup_paths(proc_cgroup)
    quotas: list[float] = []
    if v2 is not None:
        quotas += [q for f in _ancestors(root, v2) if (q := _v2_quota(f)) is not None]
    if v1 is not None:
        for base in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
            quotas += [q for f in _ancestors(base, v1) if (q := _v1_quota(f)) is not None]
    if not quotas and v2 is None and v1 is None:  # no /proc (or a stripped one): the root's own files
        quotas += [q for q in (_v2_quota(root), _v1_quota(root / "cpu")) if q is not None]
    return min(quotas) if quotas else None


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def usable_cpus(
    threads: int = 0,
    environ: Mapping[str, str] | None = None,
    root: Path = CGROUP_ROOT,
    proc_cgroup: str | None = None,
    load: float | None = None,
) -> int:
    """CPUs for this process's thread pools: `threads` when set (> 0), else OMP_NUM_THREADS, else the smaller
    of the affinity mask and the cgroup quota, rounded down, less the CPUs other work keeps busy now (the
    1-minute load average, rounded), at least 1. OpenMP threads that share a CPU with other work spin while
    they wait for each other: measured, `upid forecast` took 10.6 s with 2 threads on a quiet 2-core machine
    and 104 s with 2 threads beside two busy processes, against 22.8 s with 1 thread (docs/forecast.md)."""
    if threads > 0:
        return threads
    env = os.environ if environ is None else environ
    omp = (env.get("OMP_NUM_THREADS") or "").split(",")[0].strip()
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    cpus = _affinity()
    quota = cgroup_quota(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    busy = round(_load() if load is None else load)
    return max(1, cpus - busy)


@contextmanager
def thread_pools(threads: int) -> Iterator[int]:
    """Cap the OpenMP and BLAS pools (scikit-learn, numpy) at `threads` for the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield threads
