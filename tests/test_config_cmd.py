"""`upid config path|view|set`: settings written, resolved and shown with their source."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from upid.errors import ExitCode


def test_set_writes_config_toml_and_view_shows_the_source(upid, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert upid("config", "path").out.strip() == str(home / "config.toml")
    assert upid("config", "set", "cluster", "prod").code == 0
    assert upid("config", "set", "instance_prices", "m5.large=0.096,c5.xlarge=0.17").code == 0
    assert upid("config", "set", "max_cpu_shortfall", "0.05").code == 0
    data = tomllib.loads((home / "config.toml").read_text())
    assert data == {
        "cluster": "prod",
        "max_cpu_shortfall": 0.05,
        "instance_prices": {"m5.large": 0.096, "c5.xlarge": 0.17},
    }
    monkeypatch.setenv("UPID_MAX_CPU_SHORTFALL", "0.2")
    rows = _view(upid)
    assert rows["cluster"] == {"value": "prod", "source": "config.toml"}
    assert rows["max_cpu_shortfall"] == {"value": 0.2, "source": "env UPID_MAX_CPU_SHORTFALL"}
    assert rows["instance_prices"]["value"] == {"m5.large": 0.096, "c5.xlarge": 0.17}
    assert rows["days_to_keep"]["source"] == "default"


def _view(upid) -> dict[str, dict]:
    r = upid("config", "view", "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def test_a_bad_value_or_key_exits_8_and_changes_nothing(upid, home: Path) -> None:
    assert upid("config", "set", "days_to_keep", "30").code == 0
    before = (home / "config.toml").read_text()
    for args in (("days_to_keep", "thirty"), ("no_such_key", "1"), ("debug", "maybe")):
        r = upid("config", "set", *args)
        assert r.code == ExitCode.CONFIG and r.err.startswith("error: ")
    assert (home / "config.toml").read_text() == before
