"""The store layer: where samples live. `open_store` picks the backend for the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from upid.settings import Settings
    from upid.store.base import Store


def open_store(settings: Settings, notify: Callable[[str], None] = lambda message: None) -> Store:
    if settings.store_url:
        from upid.store.postgres.store import PostgresStore

        return PostgresStore(settings.store_url)
    from upid.store.duckdb.store import DuckDBStore

    return DuckDBStore(settings.store, lock_timeout=settings.lock_timeout, notify=notify)
