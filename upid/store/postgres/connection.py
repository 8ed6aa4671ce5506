"""Connections to a PostgreSQL store: libpq's conventions (PGPASSWORD, ~/.pgpass, PGSERVICE, sslmode in the URL),
driver errors turned into upid's store errors, and no password in any message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from upid import redact
from upid.errors import StoreError

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT = 10  # seconds


@contextmanager
def connect(url: str) -> Iterator[psycopg.Connection]:
    try:
        import psycopg
    except ImportError:
        raise StoreError("a PostgreSQL store needs the psycopg package", hint="pip install 'psycopg[binary]'") from None
    try:
        con = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
    except psycopg.Error as e:
        raise StoreError(f"cannot connect to the PostgreSQL store {redact.url(url)}: {_first_line(e)}") from None
    try:
        with wrapped(url):
            yield con
    finally:
        con.close()


@contextmanager
def wrapped(url: str) -> Iterator[None]:
    import psycopg

    try:
        yield
    except psycopg.Error as e:
        raise StoreError(f"PostgreSQL store {redact.url(url)}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    return redact.url(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
