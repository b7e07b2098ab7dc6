"""The database: engine creation, migrations at start, transactions."""
from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, ColumnElement, String, any_, bindparam, create_engine, event, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import NullType

from graphsync import codec

log = logging.getLogger("graphsync.db")

MIGRATIONS = Path(__file__).with_name("migrations")
STARTUP_LOCK = 0x67726170  # PostgreSQL advisory lock key for start-up ("grap")
BUSY_TIMEOUT_SECONDS = 60  # SQLite: how long a transaction waits for another process's write to end
# PostgreSQL sessions: psycopg prepares a statement run five times, and PostgreSQL then may switch
# it to a generic plan made once, without the parameters' values. Tables that grow from empty
# during a bulk load (links, users) got sequential-scan plans that stayed: lookups by key took
# 0.3 s at 100k rows and inbound ran 10x slower than on SQLite. Custom plans cost a planning per
# execution and follow the data.
PG_SESSION_OPTIONS = "-c plan_cache_mode=force_custom_plan"
ANALYZE_AFTER_ROWS = 5000  # PostgreSQL: rows a bulk writer adds before the first ANALYZE of this process
# the tables bulk writers grow and look rows up in by key (provisioning logs are only appended)
ANALYZED_TABLES = ("directory_users", "directory_changes", "inbound_links", "inbound_records", "inbound_references")
CHECKPOINT_SECONDS = 0.5  # SQLite: how often the checkpointer moves the write-ahead log into the file


# Waits between the tries of a unit of work that met a transient database error (a connection
# dropped or terminated, a server restarting): about 20 s in all, then the error is raised.
TRANSIENT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0)


def is_transient(exc: BaseException) -> bool:
    """A database error that a new try on a new connection may not meet again."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)))


def retry_transient(method):
    """Run a method (or function) that is one unit of work again after a transient database
    error, with back-off (its transaction was rolled back, so it starts over on a new
    connection). A method called inside a transaction its object has open (``self._open``) is not
    retried on its own: the transaction is, as a whole."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if getattr(self, "_open", None) is not None:
            return method(self, *args, **kwargs)
        for delay in (*TRANSIENT_DELAYS, None):
            try:
                return method(self, *args, **kwargs)
            except DBAPIError as exc:
                if delay is None or not is_transient(exc):
                    raise
                log.warning("%s met a transient database error (%s); trying again in %.2f s",
                            method.__qualname__, exc.__class__.__name__, delay)
                time.sleep(delay)
    return call


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _create_engine(url)
        # SQLite has one writer at a time; serialising our own transactions avoids SQLITE_BUSY
        # upgrades (and is required for the in-memory store, whose one connection is shared).
        # A file is also serialised across processes (a worker beside serve) by a lock file.
        self._analyze_lock = threading.Lock()
        self._grown = 0  # rows added by bulk writers since this process last analyzed
        self._analyzed_at = 0  # rows added by bulk writers before that
        path = _sqlite_path(url)
        self.file = path  # the SQLite file ('' for PostgreSQL and the in-memory store)
        self._checkpointer = _Checkpointer(path) if path else None
        self._reader = _create_reader(url) if path else None
        if path:
            self._lock = _FileLock(Path(f"{path}.lock"))
        elif self.engine.dialect.name == "sqlite":
            self._lock = threading.RLock()
        else:
            self._lock = nullcontext()

    def grew(self, rows: int) -> None:
        """A bulk writer added ``rows`` rows (inbound batches). PostgreSQL plans from statistics
        that only ANALYZE refreshes, and autovacuum may be off or minutes behind a bulk load:
        with the statistics of a nearly empty directory, key lookups chose an index on the tenant
        alone and read every user (0.1 s a query at 100k users). So this process analyzes once
        5,000 rows were added, then each time the rows added since double (a few times per
        load). The sample is a tenth of the default (3,000 rows a table): what the lookups need is
        the tables' sizes, and the full sample cost 0.7 s a time at 100k records (0.06 s now);
        a later autovacuum ANALYZE takes the full sample again."""
        if self.dialect != "postgresql":
            return
        with self._analyze_lock:
            self._grown += rows
            if self._grown < max(ANALYZE_AFTER_ROWS, self._analyzed_at):
                return
            self._analyzed_at, self._grown = self._analyzed_at + self._grown, 0
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SET LOCAL default_statistics_target = 10")
            connection.exec_driver_sql(f"ANALYZE {', '.join(ANALYZED_TABLES)}")
            connection.commit()

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

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A unit of work that only reads: one consistent snapshot, and a write in it is an error.

        On a SQLite file it neither takes the writers' lock nor waits for it: in WAL mode a reader
        sees the last commit while a writer goes on, so a GET is not held up for the length of an
        inbound batch (a quarter of a second and more) and does not hold the engine up either. On
        PostgreSQL it is a READ ONLY transaction; the in-memory store has one shared connection
        and stays serialised."""
        if self._reader is not None:
            with self._reader.begin() as connection:
                yield connection
            return
        with self.transaction() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield connection

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._reader is not None:
            self._reader.dispose()
        self.engine.dispose()


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def among(connection: Connection, column: ColumnElement, values: list) -> ColumnElement:
    """``column IN (values)`` with the values in one bound parameter: a JSON array read by
    json_each on SQLite, an array compared with ``= ANY`` on PostgreSQL. SQLAlchemy's IN renders a
    parameter per value on every execution (the expanded statement is not cached): 2.7 ms for 500
    values against 1.5 ms, and a batch of inbound records runs about fifteen such lookups."""
    if connection.dialect.name == "postgresql":
        item = String() if isinstance(column.type, NullType) else column.type  # lower(…) is text
        return column == any_(bindparam(None, list(values), type_=ARRAY(item)))
    return column.in_(select(literal_column("value")).select_from(
        func.json_each(bindparam(None, codec.dumps(list(values)), type_=String))))


class _Checkpointer:
    """Moves SQLite's write-ahead log into the database file from a thread of its own.

    SQLite would do it in the connection whose commit crosses 1,000 log pages: a bulk writer (an
    inbound batch writes several MB) then pays a copy and an fsync at most of its commits, about
    an eighth of its time. Our connections turn that off; this thread runs a PASSIVE checkpoint
    (it never blocks writers or readers) every CHECKPOINT_SECONDS, on the other core while the
    writer goes on. Every process that opens the database runs one, so the log stays short
    whichever of them writes."""

    def __init__(self, path: str):
        self._path = path
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = None
        try:
            while not self._stopped.wait(CHECKPOINT_SECONDS):
                try:
                    if connection is None:
                        if not os.path.exists(self._path):
                            continue  # not created yet (migrations create it)
                        # mode=rw: never create a database file (one removed meanwhile stays removed)
                        connection = sqlite3.connect(f"{Path(self._path).resolve().as_uri()}?mode=rw", uri=True,
                                                     timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.warning("checkpointing %s failed; trying again", self._path, exc_info=True)
        finally:
            if connection is not None:
                connection.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)


class _FileLock:
    """The threads of this process one after the other (an RLock), and processes one after the
    other (flock on a file beside the database). SQLite's busy timeout would do the latter too, but
    it polls with sleeps of up to 100 ms: a process waiting for another's transaction would sleep
    past its end; a waiter on flock runs as soon as the lock is free."""

    def __init__(self, path: Path):
        self._threads = threading.RLock()
        self._path = path
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0:
                if self._fd is None:
                    self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def create_private_file(path: Path) -> None:
    """The SQLite file, created empty and 0600 (in a directory created 0700) before SQLite opens
    it: SQLite would create it 0644, and gives its -wal and -shm files the database file's mode.
    An existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _sqlite_path(url: str) -> str:
    """The file of a SQLite URL ('' for other databases and the in-memory store)."""
    if not url.startswith("sqlite") or url in ("sqlite://", "sqlite:///:memory:"):
        return ""
    return url.split("///", 1)[1] if "///" in url else ""


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False},
                                   json_serializer=codec.dumps, json_deserializer=codec.loads)
        else:
            path = _sqlite_path(url)
            if path:
                create_private_file(Path(path))
            engine = _sqlite_file_engine(url)
            # Other processes (a 'graphsync worker' beside 'graphsync serve') may write the same
            # file. pysqlite would begin a transaction only at its first write, so what it read
            # before could change underneath it (a lost update of a job row), and upgrading a read
            # to a write fails at once with SQLITE_BUSY instead of waiting. BEGIN IMMEDIATE takes
            # the write lock first (waiting up to the busy timeout): a transaction sees no other
            # process's writes between its reads and its writes.
            event.listen(engine, "begin", _sqlite_begin_immediate)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={"options": PG_SESSION_OPTIONS},
                         json_serializer=codec.dumps, json_deserializer=codec.loads)


def _create_reader(url: str) -> Engine:
    """Connections to a SQLite file for ``Database.reading``: query_only (a write fails loudly
    instead of taking the write lock unannounced) and a deferred BEGIN (the snapshot is taken at
    the first read and kept to the end of the transaction)."""
    engine = _sqlite_file_engine(url)
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    return engine


def _sqlite_file_engine(url: str) -> Engine:
    """An engine on a SQLite file whose transactions begin where its listeners say (the driver
    emits no BEGIN of its own): the writers' and the readers' engines differ only in that."""
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
                           json_serializer=codec.dumps, json_deserializer=codec.loads)
    event.listen(engine, "connect", _sqlite_manual_transactions)
    return engine


def _sqlite_reader_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # the _Checkpointer thread does it (memory: harmless)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
