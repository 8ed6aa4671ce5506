"""Thread pools sized to the CPUs the process may use: the cgroup quota (v1, v2, nested), affinity, the settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from upid.cpus import cgroup_quota, usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


def _v2(root: Path, path: str, cpu_max: str) -> None:
    folder = root.joinpath(*path.strip("/").split("/")) if path.strip("/") else root
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.max").write_text(cpu_max + "\n")


def _v1(root: Path, path: str, quota: int, period: int = 100_000, mount: str = "cpu") -> None:
    folder = root / mount / path.strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (folder / "cpu.cfs_period_us").write_text(f"{period}\n")


@pytest.mark.parametrize(
    "cpu_max, expected",
    [("50000 100000", 0.5), ("150000 100000", 1.5), ("max 100000", None), ("400000 100000", 4.0), ("junk", None)],
)
def test_cgroup_v2_quota(tmp_path: Path, cpu_max: str, expected: float | None) -> None:
    _v2(tmp_path, "/kubepods/pod1/ctr", cpu_max)
    assert cgroup_quota(tmp_path, "0::/kubepods/pod1/ctr\n") == expected


def test_the_tightest_quota_along_the_path_wins(tmp_path: Path) -> None:
    _v2(tmp_path, "/kubepods", "300000 100000")
    _v2(tmp_path, "/kubepods/pod1", "120000 100000")
    _v2(tmp_path, "/kubepods/pod1/ctr", "max 100000")
    assert cgroup_quota(tmp_path, "0::/kubepods/pod1/ctr\n") == pytest.approx(1.2)


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    proc = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"
    assert cgroup_quota(tmp_path, proc) is None
    _v1(tmp_path, "/docker/abc", 50_000, mount="cpu,cpuacct")  # a co-mounted controller, without the cpu link
    assert cgroup_quota(tmp_path, proc) == 0.5
    _v1(tmp_path, "/docker/def", -1)  # unlimited
    assert cgroup_quota(tmp_path, "4:cpu,cpuacct:/docker/def\n") is None


@pytest.mark.parametrize(
    "cpu_max, threads, omp, load, expected",
    [
        ("50000 100000", 0, None, 0.0, 1),  # a pod with a 500m limit: one thread
        ("max 100000", 0, None, 0.0, AFFINITY),  # no quota: the affinity mask
        ("1000000 100000", 0, None, 0.0, AFFINITY),  # a quota above the CPUs the process may run on
        ("400000 100000", 0, None, 0.0, min(4, AFFINITY)),
        ("max 100000", 0, None, 1.7, max(1, AFFINITY - 2)),  # two CPUs' worth of other work running now
        ("max 100000", 0, None, 50.0, 1),  # a saturated machine: still one
        ("50000 100000", 3, None, 50.0, 3),  # the `threads` setting wins, whatever the load
        ("50000 100000", 0, "2", 50.0, 2),  # then OMP_NUM_THREADS
        ("50000 100000", 0, "abc", 0.0, 1),  # a malformed OMP_NUM_THREADS is ignored
    ],
)
def test_usable_cpus(tmp_path: Path, cpu_max: str, threads: int, omp: str | None, load: float, expected: int) -> None:
    _v2(tmp_path, "/", cpu_max)
    env = {} if omp is None else {"OMP_NUM_THREADS": omp}
    assert usable_cpus(threads, env, tmp_path, "0::/\n", load=load) == expected


def test_forecast_trains_with_pools_capped_at_the_usable_cpus(tmp_path: Path) -> None:
    """In a real process: the OpenMP pool scikit-learn trains with is capped while the forecast runs."""
    code = (
        "from threadpoolctl import threadpool_info\n"
        "import sklearn.ensemble\n"
        "from upid.cpus import thread_pools\n"
        "with thread_pools(1):\n"
        "    inside = {p['user_api']: p['num_threads'] for p in threadpool_info()}\n"
        "print(inside.get('openmp'), inside.get('blas'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "1" and out[1] in ("1", "None")
