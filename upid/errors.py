"""The one error family of upid and its exit codes; the CLI maps these to `error: ...` lines."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit statuses. Documented in docs/exit-codes.md; never renumber one."""

    OK = 0
    ERROR = 1  # an unexpected failure (a bug): run again with --debug
    USAGE = 2  # a wrong flag, argument or option value
    INPUT = 3  # a malformed or unreadable input file, or one with no usable row
    NO_DATA = 4  # nothing to work on: no store yet, unknown cluster, empty window
    STORE_LOCKED = 5  # the store stayed locked by another upid for longer than the lock timeout
    STORE_CORRUPT = 6  # the store file is not a readable upid/DuckDB store
    STORE_VERSION = 7  # the store was written by a newer upid
    CONFIG = 8  # a broken config.toml or environment setting
    STORE_IO = 9  # the store cannot be opened or written: permissions, a directory, a full disk
    CLUSTER_UNREACHABLE = 10  # the API server did not answer: refused, timed out, unknown host, TLS
    KUBECONFIG = 11  # no usable kubeconfig or in-cluster configuration, or an unknown context
    UNAUTHORIZED = 12  # the API server rejected the credentials (401)
    FORBIDDEN = 13  # RBAC denied a request the command needs (403)
    METRICS_UNAVAILABLE = 14  # no usage source: metrics.k8s.io not installed and the kubelet summary not allowed
    SEVERITY_GATE = 15  # --fail-on: a recommendation at or above the given severity (CI gating)
    SAVINGS_GATE = 16  # --fail-on-savings: the possible monthly savings reach the given amount (CI gating)
    OUTPUT = 17  # an output file or folder cannot be written (report --html, optimize --out)
    PROMETHEUS = 18  # Prometheus did not answer, or answered with an error (import-prometheus)
    REMOTE = 19  # upid serve did not answer, or answered with an error (storage pull)
    ALERTS_FIRING = 20  # upid alerts --fail-on: an alert at that severity or worse is firing (cron, CI)
    ALERT_DELIVERY = 21  # Alertmanager or the webhook did not take the alerts, after the retries
    INTERRUPTED = 130  # Ctrl-C


class UpidError(Exception):
    """Base of every error upid reports as one line; `hint` is an optional second sentence."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(UpidError):
    exit_code = ExitCode.USAGE


class InputError(UpidError):
    exit_code = ExitCode.INPUT


class NoDataError(UpidError):
    exit_code = ExitCode.NO_DATA


class ConfigError(UpidError):
    exit_code = ExitCode.CONFIG


class StoreError(UpidError):
    """A failure of the store that is not one of the specific kinds below (usually the file system's)."""

    exit_code = ExitCode.STORE_IO


class StoreLockedError(StoreError):
    exit_code = ExitCode.STORE_LOCKED


class StoreCorruptError(StoreError):
    exit_code = ExitCode.STORE_CORRUPT


class StoreVersionError(StoreError):
    exit_code = ExitCode.STORE_VERSION


class ClusterError(UpidError):
    """The cluster could not be reached or refused us; messages read like kubectl's."""

    exit_code = ExitCode.CLUSTER_UNREACHABLE


class KubeconfigError(ClusterError):
    exit_code = ExitCode.KUBECONFIG


class UnauthorizedError(ClusterError):
    exit_code = ExitCode.UNAUTHORIZED


class ForbiddenError(ClusterError):
    exit_code = ExitCode.FORBIDDEN


class MetricsUnavailableError(ClusterError):
    exit_code = ExitCode.METRICS_UNAVAILABLE


class SeverityGateError(UpidError):
    exit_code = ExitCode.SEVERITY_GATE


class SavingsGateError(UpidError):
    exit_code = ExitCode.SAVINGS_GATE


class OutputError(UpidError):
    exit_code = ExitCode.OUTPUT


class HttpServiceError(UpidError):
    """A service upid talks HTTP to was unreachable, timed out or answered with an error; the message names the
    URL and the status. A 401 or 403 keeps the exit codes of rejected credentials (12) and refused access (13)."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        if status == 401:
            self.exit_code = ExitCode.UNAUTHORIZED
        elif status == 403:
            self.exit_code = ExitCode.FORBIDDEN


class PrometheusError(HttpServiceError):
    """Prometheus (storage import-prometheus)."""

    exit_code = ExitCode.PROMETHEUS


class RemoteError(HttpServiceError):
    """`upid serve` (storage pull)."""

    exit_code = ExitCode.REMOTE


class AlertsFiringError(UpidError):
    exit_code = ExitCode.ALERTS_FIRING


class AlertDeliveryError(HttpServiceError):
    """Alertmanager or the webhook, after the retries."""

    exit_code = ExitCode.ALERT_DELIVERY
