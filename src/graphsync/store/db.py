"""The database: engine creation, migrations at start, transactions."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from graphsync import codec

MIGRATIONS = Path(__file__).with_name("migrations")
STARTUP_LOCK = 0x67726170  # PostgreSQL advisory lock key for start-up ("grap")
BUSY_TIMEOUT_SECONDS = 60  # SQLite: how long a transaction waits for another process's write to end


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _create_engine(url)
        # SQLite has one writer at a time; serialising our own transactions avoids SQLITE_BUSY
        # upgrades (and is required for the in-memory store, whose one connection is shared).
        self._lock = threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._lock, self.engine.begin() as connection:
            self.serialise_startup(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def serialise_startup(self, connection: Connection) -> None:
        """Processes starting together (serve --workers N, a worker beside serve) migrate and create
        the first rows one after the other: on PostgreSQL a transaction-scoped advisory lock; on
        SQLite every transaction already holds the write lock (BEGIN IMMEDIATE)."""
        if self.dialect == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STARTUP_LOCK})")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: everything inside commits together or not at all."""
        with self._lock, self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False},
                                   json_serializer=codec.dumps, json_deserializer=codec.loads)
        else:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
                                   json_serializer=codec.dumps, json_deserializer=codec.loads)
            # Other processes (a 'graphsync worker' beside 'graphsync serve') may write the same
            # file. pysqlite would begin a transaction only at its first write, so what it read
            # before could change underneath it (a lost update of a job row), and upgrading a read
            # to a write fails at once with SQLITE_BUSY instead of waiting. BEGIN IMMEDIATE takes
            # the write lock first (waiting up to the busy timeout): a transaction sees no other
            # process's writes between its reads and its writes.
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         json_serializer=codec.dumps, json_deserializer=codec.loads)


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
