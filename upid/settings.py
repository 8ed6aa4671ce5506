"""Settings, resolved once at the edge: flag > UPID_* environment > $UPID_HOME/config.toml > default."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upid.errors import ConfigError

if TYPE_CHECKING:
    from upid.analysis.budget import Budget

CONFIG_FILE = "config.toml"
STORE_FILE = "upid.duckdb"


@dataclass(frozen=True)
class Settings:
    home: Path
    store: Path
    store_url: str | None = None  # a PostgreSQL store (postgresql://USER@HOST:PORT/DB?...) instead of the DuckDB file
    days_to_keep: int = 35  # raw samples, before each cluster's newest; windows longer than this read rollups
    hourly_days_to_keep: int = 400  # hourly rollups
    cluster: str | None = None  # the cluster analysed when --cluster is not given and the store has several
    lock_timeout: float = 30.0  # seconds a reader waits for a writer; a writer waits a third of it, then spools
    cpu_limit: str = "none"  # the CPU limit policy of recommendations: none, pNN or Nx
    timezone: str = "UTC"  # of sleep schedules
    price_cpu_core_hour: float = 0.031611  # OpenCost's default unit prices (GCP us-central1 based)
    price_memory_gib_hour: float = 0.004237
    currency: str = "USD"
    discount_percent: float = 0.0
    idle_exclude_namespaces: str = ""  # comma-separated, in addition to the built-in system namespaces
    idle_exclude_patterns: str = ""  # comma-separated regular expressions of workload names never flagged idle
    instance_prices: dict[str, float] = field(default_factory=dict)  # hourly price per instance type
    protected_namespaces: str = ""  # comma-separated: `optimize` never changes them (kube-system always)
    max_cpu_shortfall: float = 0.10  # `optimize` refuses a change whose backtested CPU shortfall is above this
    max_oom_kills: int = 0  # ... or whose backtest replay had more OOM kills than this
    min_history_hours: float = 24.0  # ... or that rests on less history than this
    severity_warning_savings: float = 50.0  # monthly savings that make a container `warning` (a fifth: `ok`)
    severity_critical_savings: float = 200.0  # ... `critical` (upid/analysis/severity.py)
    clock_skew: float = 600.0  # seconds a sample may be ahead of this machine's clock; later ones are bad rows
    budgets: tuple[Budget, ...] = ()  # [[budgets]] tables of config.toml (upid.analysis.budget)
    threads: int = 0  # threads of the forecast's thread pools; 0: the CPUs this process may use (upid/cpus.py)
    debug: bool = False

    def with_flags(self, **flags: Any) -> Settings:
        """Apply command-line flags; a flag left at None keeps the resolved value."""
        given = {k: v for k, v in flags.items() if v is not None}
        return replace(self, **given)


# key -> (type, environment variable)
_KEYS: dict[str, tuple[type, str]] = {
    "store": (Path, "UPID_STORE"),
    "days_to_keep": (int, "UPID_DAYS_TO_KEEP"),
    "hourly_days_to_keep": (int, "UPID_HOURLY_DAYS_TO_KEEP"),
    "cluster": (str, "UPID_CLUSTER"),
    "lock_timeout": (float, "UPID_LOCK_TIMEOUT"),
    "cpu_limit": (str, "UPID_CPU_LIMIT"),
    "timezone": (str, "UPID_TIMEZONE"),
    "price_cpu_core_hour": (float, "UPID_PRICE_CPU_CORE_HOUR"),
    "price_memory_gib_hour": (float, "UPID_PRICE_MEMORY_GIB_HOUR"),
    "currency": (str, "UPID_CURRENCY"),
    "discount_percent": (float, "UPID_DISCOUNT_PERCENT"),
    "idle_exclude_namespaces": (str, "UPID_IDLE_EXCLUDE_NAMESPACES"),
    "idle_exclude_patterns": (str, "UPID_IDLE_EXCLUDE_PATTERNS"),
    "instance_prices": (dict, "UPID_INSTANCE_PRICES"),
    "protected_namespaces": (str, "UPID_PROTECTED_NAMESPACES"),
    "max_cpu_shortfall": (float, "UPID_MAX_CPU_SHORTFALL"),
    "max_oom_kills": (int, "UPID_MAX_OOM_KILLS"),
    "min_history_hours": (float, "UPID_MIN_HISTORY_HOURS"),
    "severity_warning_savings": (float, "UPID_SEVERITY_WARNING_SAVINGS"),
    "severity_critical_savings": (float, "UPID_SEVERITY_CRITICAL_SAVINGS"),
    "clock_skew": (float, "UPID_CLOCK_SKEW"),
    "threads": (int, "UPID_THREADS"),
    "debug": (bool, "UPID_DEBUG"),
}


def listed(text: str) -> tuple[str, ...]:
    """A comma-separated setting (namespaces, patterns) as its items."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


def upid_home(environ: Mapping[str, str]) -> Path:
    """UPID_HOME, absolute: a relative one is taken from the working directory, once (not again inside itself)."""
    return Path(environ.get("UPID_HOME") or Path.home() / ".upid").expanduser().absolute()


def ensure_home(home: Path) -> None:
    """Create UPID_HOME with owner-only permissions (it will hold cluster data and config)."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create UPID_HOME {home}: {e.strerror}") from e


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve environment and config file; command-line flags are applied later with `with_flags`."""
    env = os.environ if environ is None else environ
    home = upid_home(env)
    values: dict[str, Any] = {"store": home / STORE_FILE}
    values.update(_read_config(home / CONFIG_FILE))
    for key, (kind, var) in _KEYS.items():
        if env.get(var) not in (None, ""):
            values[key] = _convert(key, kind, env[var], var)
    raw = values.pop("store")
    if is_store_url(str(raw)):
        return Settings(home=home, store=home / STORE_FILE, store_url=str(raw), **values)
    store = Path(raw).expanduser()
    if not store.is_absolute():
        store = home / store
    return Settings(home=home, store=store, **values)


def is_store_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def _read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    unknown = sorted(set(data) - set(_KEYS) - {"budgets"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}, budgets")
    values = {k: _convert(k, _KEYS[k][0], v, f"{path}:{k}") for k, v in data.items() if k != "budgets"}
    if "budgets" in data:
        from upid.analysis.budget import parse_budgets

        budgets, problems = parse_budgets(data["budgets"], f"{path}:budgets", "config")
        if problems:
            raise ConfigError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        values["budgets"] = tuple(budgets)
    return values


def _convert(key: str, kind: type, raw: Any, where: str) -> Any:
    if kind is dict:
        return _price_table(key, raw, where)
    if kind is bool:
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {kind.__name__} for {key}, got {raw!r}") from None
    if kind in (int, float) and value < 0:
        raise ConfigError(f"{where}: {key} must not be negative, got {raw!r}")
    return value


def _price_table(key: str, raw: Any, where: str) -> dict[str, float]:
    """A TOML table `[instance_prices]` ("m5.large" = 0.096) or, from the environment, "m5.large=0.096,..."."""
    if isinstance(raw, str):
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError(f"{where}: expected TYPE=PRICE[,TYPE=PRICE...] for {key}, got {raw!r}")
        raw = {name.strip(): value.strip() for name, value in pairs}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of instance type = hourly price for {key}, got {raw!r}")
    return {str(name): _convert(key, float, value, f"{where}.{name}") for name, value in raw.items()}


def sources(environ: Mapping[str, str] | None = None) -> list[tuple[str, Any, str]]:
    """(key, resolved value, where it came from: env VAR, config.toml or default) for every setting."""
    env = os.environ if environ is None else environ
    settings = load_settings(env)
    in_file = _read_config(settings.home / CONFIG_FILE)
    out = []
    for key, (_, var) in _KEYS.items():
        source = f"env {var}" if env.get(var) not in (None, "") else (CONFIG_FILE if key in in_file else "default")
        out.append((key, getattr(settings, key), source))
    summary = ", ".join(f"{b.name}={b.monthly:g}" for b in settings.budgets)
    out.append(("budgets", summary, CONFIG_FILE if "budgets" in in_file else "default"))
    return out


def set_value(home: Path, key: str, raw: str) -> Any:
    """Check a value and write it into config.toml (other keys are kept; comments are not)."""
    if key not in _KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(_KEYS)}")
    kind = _KEYS[key][0]
    value = _convert(key, kind, raw, key)
    path = home / CONFIG_FILE
    data = _read_config(path)
    data[key] = value
    ensure_home(home)
    try:
        path.write_text(_toml(data), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from e
    return value


def _toml(data: dict[str, Any]) -> str:
    import json

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v) if isinstance(v, int | float) else json.dumps(str(v))

    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, dict | tuple)]
    for k, table in ((k, v) for k, v in data.items() if isinstance(v, dict)):
        lines += ["", f"[{k}]"] + [f"{json.dumps(name)} = {scalar(price)}" for name, price in table.items()]
    for b in data.get("budgets", ()):  # kept as they were given (set_value rewrites the file)
        fields = {"name": b.name, "monthly": b.monthly, "cluster": b.cluster, "namespace": b.namespace}
        fields["label"] = b.label
        lines += ["", "[[budgets]]"] + [f"{k} = {scalar(v)}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"
