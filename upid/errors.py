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
