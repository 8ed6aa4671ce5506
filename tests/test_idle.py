"""Idle detection: signals, exclusions, thresholds, through the CLI and the analysis JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from upid.analysis.history import ContainerHistory
from upid.analysis.idle import IdlePolicy, detect
from upid.errors import ExitCode

HOUR = 3600
END = 1_767_225_600 + 10 * 24 * HOUR


def history(cpu: np.ndarray, key=("shop", "Deployment", "web", "app"), request=1.0, network=None, **kw):
    n = len(cpu)
    ts = END - (n - 1 - np.arange(n)) * 300
    return ContainerHistory(
        key=key,
        ts=ts,
        cpu=np.asarray(cpu, float),
        memory=np.full(n, 200e6),
        pod=np.zeros(n, int),
        current={"cpu_request": request, "cpu_limit": None, "memory_request": 256e6, "memory_limit": None},
        network=None if network is None else np.asarray(network, np.float32),
        **kw,
    )


def test_a_week_of_near_zero_is_idle_since_its_start() -> None:
    cpu = np.full(10 * 288, 0.3)
    cpu[-8 * 288 :] = 0.002  # the last 8 days at 2m on a 1-core request
    [item] = detect([history(cpu)], END)
    assert item.idle_since == END - (8 * 288 - 1) * 300
    assert item.idle_hours == pytest.approx((8 * 288 - 1) * 300 / HOUR, abs=0.1)
    assert item.confidence == 1.0 and item.signals["cpu_p99"] == pytest.approx(0.002)
    assert item.savings == {"cpu_cores": 1.0, "memory_bytes": 256e6}


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda c: c.__setitem__(slice(-5, None), 0.3), "busy in the last minutes"),
        (lambda c: c.__setitem__(-500, 0.25), "a burst above 20 % of the request inside the run"),
        (lambda c: c.__setitem__(slice(-700, -600), 0.03), "a busy day (p99 above 2 %) inside a quiet run"),
    ],
)
def test_not_idle(change, why: str) -> None:
    cpu = np.full(10 * 288, 0.002)
    change(cpu)
    items = detect([history(cpu)], END)
    assert not items or items[0].idle_since > END - 3 * 24 * HOUR, why


def test_network_traffic_keeps_a_workload_alive() -> None:
    cpu = np.full(10 * 288, 0.002)
    assert detect([history(cpu, network=np.full(len(cpu), 500.0))], END)
    assert not detect([history(cpu, network=np.full(len(cpu), 50_000.0))], END)


def test_confidence_grows_with_idle_time_and_gates_the_flag() -> None:
    cpu = np.full(10 * 288, 0.3)
    cpu[-2 * 288 :] = 0.002  # two idle days: confidence about 2/7
    assert not detect([history(cpu)], END)
    [item] = detect([history(cpu)], END, IdlePolicy(min_confidence=0.2))
    assert 0.2 < item.confidence < 0.35


@pytest.mark.parametrize(
    "key, kw, reason",
    [
        (("kube-system", "Deployment", "dns", "app"), {}, "system namespace"),
        (("shop", "Deployment", "web", "app"), {"annotations": {"upid.io/exclude": "true"}}, "upid.io/exclude"),
        (("shop", "Deployment", "cert-operator", "app"), {}, "operators and controllers"),
        (("shop", "CronJob", "nightly", "app"), {}, "runs on a schedule"),
        (("shop", "Deployment", "web", "app"), {"replicas": 0}, "already scaled to zero"),
    ],
)
def test_what_must_not_go_to_zero_is_excluded_with_a_reason(key, kw, reason: str) -> None:
    [item] = detect([history(np.full(10 * 288, 0.0), key=key, **kw)], END)
    assert item.excluded and reason in item.excluded


def test_upid_idle_and_the_analysis_idle_section(upid, tmp_path: Path) -> None:
    rows = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores,memory_request_bytes"]
    for i in range(10 * 288):
        ts = 1_767_225_600 + i * 300
        rows.append(f"{ts},shop,sleepy,sleepy-1,app,0.001,100000000,0.5,268435456")
        rows.append(f"{ts},shop,busy,busy-1,app,{0.2 + (i % 7) / 100},300000000,0.5,536870912")
        rows.append(f"{ts},kube-system,dns,dns-1,app,0.0,10000000,0.1,70000000")
    path = tmp_path / "u.csv"
    path.write_text("\n".join(rows) + "\n")
    assert upid("storage", "import", path).code == 0
    doc = upid("idle", "-o", "json").json()
    assert [i["workload"] for i in doc["idle"]] == ["sleepy"]
    assert (doc["idle"][0]["kind"], doc["idle"][0]["sleep_hours_per_week"]) == ("idle", None)
    assert doc["idle"][0]["savings"] == {"cpu_cores": 0.5, "memory_bytes": 268435456}
    assert [(e["workload"], e["excluded"]) for e in doc["excluded"]] == [("dns", "system namespace kube-system")]
    table = upid("idle")
    assert "sleepy" in table.out and "dns" not in table.out
    assert "system namespace kube-system" in upid("idle", "-o", "wide").out
    analysis = upid("analyze", "-o", "json").json()
    assert [i["workload"] for i in analysis["idle"]] == ["sleepy"]
    none = upid("idle", "-n", "shop", "--min-idle", "30d")
    assert none.code == 0 and none.out == "" and "No idle workloads found." in none.err
    bad = upid("idle", "--min-confidence", "2")
    assert bad.code == ExitCode.USAGE


def _office_hours(days: int = 22, start_hour: int = 8, end_hour: int = 20, weekends: bool = False) -> np.ndarray:
    """CPU busy from start_hour to end_hour UTC (weekdays only unless `weekends`), near zero otherwise."""
    ts = 1_767_225_600 + np.arange(days * 288) * 300  # from Thursday 2026-01-01 00:00 UTC
    hour, weekday = (ts % 86400) // 3600, ((ts // 86400) + 3) % 7
    busy = (hour >= start_hour) & (hour < end_hour) & ((weekday < 5) | weekends)
    return ts, np.where(busy, 0.4, 0.002)


def _at(ts: np.ndarray, cpu: np.ndarray) -> ContainerHistory:
    return ContainerHistory(
        key=("shop", "Deployment", "web", "app"),
        ts=ts,
        cpu=cpu,
        memory=np.full(len(ts), 1e8),
        pod=np.zeros(len(ts), int),
        current={"cpu_request": 1.0},
    )


def test_a_nightly_window_becomes_a_schedule() -> None:
    from upid.analysis.schedule import recurring

    ts, cpu = _office_hours(weekends=True)
    h = _at(ts, cpu)
    s = recurring([h], "UTC")
    assert (s.days, s.sleep_at, s.wake_up_at, s.hours_per_week) == ((0, 1, 2, 3, 4, 5, 6), 20, 8, 84)
    assert s.kube_green_weekdays == "0-6"
    assert s.downscaler_downtime == "Mon-Sun 20:00-23:59 UTC,Mon-Sun 00:00-08:00 UTC"
    berlin = recurring([h], "Europe/Berlin")  # UTC+1 in January
    assert (berlin.sleep_at, berlin.wake_up_at) == (21, 9)


def test_weekday_nights_when_weekends_are_idle_too_prefer_the_larger_window() -> None:
    from upid.analysis.schedule import recurring

    ts, cpu = _office_hours()
    h = _at(ts, cpu)
    s = recurring([h], "UTC")
    assert s.days == (0, 1, 2, 3, 4, 5, 6) and (s.sleep_at, s.wake_up_at) == (20, 8)


def test_sleep_schedules_as_kube_green_and_downscaler(upid, tmp_path: Path) -> None:
    import yaml

    ts, cpu = _office_hours(weekends=True)
    rows = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores"]
    for t, c in zip(ts, cpu, strict=True):
        rows.append(f"{t},shop,office,office-1,app,{c},100000000,1")
        rows.append(f"{t},shop,always,always-1,app,0.3,100000000,1")
    path = tmp_path / "u.csv"
    path.write_text("\n".join(rows) + "\n")
    assert upid("storage", "import", path).code == 0
    doc = upid("idle", "--history", "30d", "-o", "json").json()
    [item] = doc["idle"]
    assert item["workload"] == "office" and item["idle_since"] is None
    assert (item["kind"], item["idle_hours"], item["sleep_hours_per_week"]) == ("schedule", None, 84)
    assert item["schedule"] == {
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "sleep_at": "20:00",
        "wake_up_at": "08:00",
        "time_zone": "UTC",
        "hours_per_week": 84,
        "weeks_observed": item["schedule"]["weeks_observed"],
    }
    assert item["savings"]["cpu_cores"] == 0.5  # asleep half of the week
    table = upid("idle", "--history", "30d").out
    assert "schedule" in table and "Mon-Sun 20:00-08:00 UTC" in table
    import csv
    import io

    [row] = list(csv.DictReader(io.StringIO(upid("idle", "--history", "30d", "-o", "csv").out)))
    assert (row["kind"], row["idle_hours"], row["sleep_hours_per_week"]) == ("schedule", "", "84")
    assert (row["schedule_days"], row["sleep_at"], row["wake_up_at"], row["time_zone"]) == (
        "Mon,Tue,Wed,Thu,Fri,Sat,Sun", "20:00", "08:00", "UTC",
    )  # fmt: skip
    [sleep] = list(yaml.safe_load_all(upid("idle", "--history", "30d", "-o", "kube-green").out))
    assert sleep["kind"] == "SleepInfo" and sleep["metadata"]["namespace"] == "shop"
    assert sleep["spec"] == {
        "weekdays": "0-6",
        "sleepAt": "20:00",
        "wakeUpAt": "08:00",
        "timeZone": "UTC",
        "excludeRef": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "always"}],
    }
    r = upid("idle", "--history", "30d", "-o", "downscaler", "--timezone", "Europe/Berlin")
    assert r.out.strip() == (
        "kubectl annotate deployment/office -n shop --overwrite downscaler/downtime="
        "'Mon-Sun 21:00-23:59 Europe/Berlin,Mon-Sun 00:00-09:00 Europe/Berlin'"
    )
    bad = upid("idle", "--timezone", "Mars/Olympus")
    assert bad.code == ExitCode.USAGE and "unknown time zone" in bad.err


def test_an_autoscaled_idle_workload_says_how_to_sleep_it() -> None:
    [item] = detect([history(np.full(10 * 288, 0.001), hpa_resources=frozenset({"cpu"}))], END)
    assert item.note and "HPA" in item.note


def test_more_exclusions_from_the_settings(upid, tmp_path: Path, home: Path) -> None:
    rows = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores"]
    for i in range(10 * 288):
        ts = 1_767_225_600 + i * 300
        rows += [
            f"{ts},vault,secrets,secrets-1,app,0.001,100000000,0.5",
            f"{ts},shop,cache-proxy,cp-1,app,0.001,1,0.5",
            f"{ts},shop,web,web-1,app,0.001,100000000,0.5",
        ]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    assert upid("storage", "import", tmp_path / "u.csv").code == 0
    assert {i["workload"] for i in upid("idle", "-o", "json").json()["idle"]} == {"secrets", "cache-proxy", "web"}
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text('idle_exclude_namespaces = "vault"\nidle_exclude_patterns = "^cache-"\n')
    doc = upid("idle", "-o", "json").json()
    assert [i["workload"] for i in doc["idle"]] == ["web"]
    assert {e["workload"]: e["excluded"] for e in doc["excluded"]} == {
        "secrets": "system namespace vault",
        "cache-proxy": "name matches '^cache-': operators and controllers stay up",
    }
    assert [i["workload"] for i in upid("analyze", "-o", "json").json()["idle"]] == ["web"]


def test_one_network_direction_is_a_network_measurement(upid, tmp_path: Path) -> None:
    """An import with rx and no tx column: the network rule still applies (rx + nothing is rx, not unknown)."""
    header = "timestamp,namespace,workload,pod,container,cpu_cores,memory_bytes,cpu_request_cores"
    rows = [header + ",network_rx_bytes_per_s"]
    for i in range(10 * 288):
        ts = 1_767_225_600 + i * 300
        rows.append(f"{ts},shop,quiet,quiet-1,app,0.001,100000000,0.5,100")
        rows.append(f"{ts},shop,proxy,proxy-1,app,0.001,100000000,0.5,{200_000 + i % 5}")  # busy on the wire only
    path = tmp_path / "rx.csv"
    path.write_text("\n".join(rows) + "\n")
    assert upid("storage", "import", path).code == 0
    doc = upid("idle", "-o", "json").json()
    assert [i["workload"] for i in doc["idle"]] == ["quiet"]
    assert doc["idle"][0]["signals"]["network_p99"] == pytest.approx(100, abs=1)
