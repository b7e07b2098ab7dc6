"""The CLI, the key file, secrets at rest and migrations."""
from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager

import jwt
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from graphsync.cli import app
from graphsync.config import Settings
from graphsync.models import SecretPair
from graphsync.runtime.runtime import Runtime
from graphsync.services import applications, synchronization
from graphsync.store.tables import sync_secrets

from tests.conftest import TEST_SECRET_KEY

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHSYNC_DATABASE_URL", raising=False)
    return tmp_path


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "token", "tenant", "client"):
        assert command in result.output


def test_serve_help_names_the_environment_variables():
    """Option help shows the variables (rich markup once swallowed them, leaving "Port .")."""
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "GRAPHSYNC_HOST" in result.output and "GRAPHSYNC_PORT" in result.output


def test_token_is_for_the_default_tenant(data_dir):
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert claims["tid"] == Settings().default_tenant_id
    assert "Synchronization.ReadWrite.All" in claims["roles"]
    assert (data_dir / "graphsync.db").exists()


@pytest.fixture
def served(monkeypatch):
    """'graphsync serve' without listening: the app it would run, captured."""
    import uvicorn

    import graphsync.runtime.runtime as runtime_module
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.update(app=application, **options))
    monkeypatch.setattr(runtime_module, "freeze_startup_heap", lambda: None)
    yield started
    if "app" in started:
        started["app"].state.runtime.close()


def graph_status(application, token: str) -> int:
    from fastapi.testclient import TestClient
    with TestClient(application) as client:
        return client.get("/v1.0/applications", headers={"Authorization": f"Bearer {token}"}).status_code


def test_serve_memory_prints_a_token_that_server_accepts(served, monkeypatch):
    """'graphsync token' cannot sign for an in-memory server (its key lives in that process), yet
    start-up used to point there; it prints a token and a client for more instead."""
    from fastapi.testclient import TestClient

    monkeypatch.delenv("GRAPHSYNC_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["serve", "--memory", "--no-engine", "--port", "9731"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    token = lines[lines.index(next(line for line in lines if "token (valid" in line)) + 1].strip()
    assert graph_status(served["app"], token) == 200
    curl = next(line for line in lines if "more tokens: curl" in line).split()
    form = {part.split("=", 1)[0]: part.split("=", 1)[1] for part in curl if "=" in part and not part.startswith("http")}
    with TestClient(served["app"]) as client:
        issued = client.post(curl[-1].split("9731", 1)[1], data=form)
    assert issued.status_code == 200, issued.text
    assert graph_status(served["app"], issued.json()["access_token"]) == 200


def test_the_token_command_serve_prints_works_from_another_shell(served, data_dir, tmp_path, monkeypatch):
    """A server on another port and data directory: the printed command gives tokens it accepts,
    run where the server's environment is not (another directory, no GRAPHSYNC_* variables)."""
    import shlex

    result = runner.invoke(app, ["serve", "--port", "9732", "--no-engine"])
    assert result.exit_code == 0, result.output
    command = next(line for line in result.output.splitlines() if "graphsync token" in line)
    args = shlex.split(command.split("graphsync token", 1)[1])
    assert args == ["--url", "http://127.0.0.1:9732", "--data-dir", str(data_dir.resolve())]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("GRAPHSYNC_DATA_DIR")
    printed = runner.invoke(app, ["token", *args])
    assert printed.exit_code == 0, printed.output
    assert graph_status(served["app"], printed.output.strip()) == 200


def test_token_url_asks_the_running_server_for_its_issuer_and_key(tmp_path, monkeypatch):
    """A server listening on all interfaces calls itself http://0.0.0.0:PORT; a token asked for with
    the URL the user reaches it by still names that issuer. Another data directory's key is refused."""
    import httpx

    from graphsync.testing import EmulatorServer, free_port
    monkeypatch.delenv("GRAPHSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("GRAPHSYNC_SECRET_KEY", raising=False)
    with EmulatorServer(Settings(data_dir=tmp_path / "srv", host="0.0.0.0", port=free_port(), engine=False)) as server:
        printed = runner.invoke(app, ["token", "--url", server.url, "--data-dir", str(tmp_path / "srv")])
        assert printed.exit_code == 0, printed.output
        response = httpx.get(f"{server.url}/v1.0/applications",
                             headers={"Authorization": f"Bearer {printed.output.strip()}"})
        assert response.status_code == 200, response.text
        stranger = runner.invoke(app, ["token", "--url", server.url, "--data-dir", str(tmp_path / "other")],
                                 env={"COLUMNS": "400"})
        assert stranger.exit_code == 2 and "does not sign with the key" in stranger.output


def test_client_create_grant_and_list(data_dir):
    created = runner.invoke(app, ["client", "create", "hr-sync", "--role", "Synchronization.Read.All"])
    assert created.exit_code == 0, created.output
    client = json.loads(created.output)
    assert client["roles"] == ["Synchronization.Read.All"] and len(client["clientSecret"]) > 20
    granted = runner.invoke(app, ["client", "grant", client["clientId"], "-r", "Synchronization.ReadWrite.All",
                                  "-r", "Application.ReadWrite.All"])
    assert granted.exit_code == 0 and "Application.ReadWrite.All" in granted.output
    listed = runner.invoke(app, ["client", "list"], env={"COLUMNS": "250"})
    assert client["clientId"] in listed.output


def test_unknown_permission_is_refused(data_dir):
    result = runner.invoke(app, ["client", "create", "x", "--role", "Everything.All"])
    assert result.exit_code != 0


def test_tenant_create_and_list(data_dir):
    created = json.loads(runner.invoke(app, ["tenant", "create", "Fabrikam", "--domain", "fabrikam.test"]).output)
    assert created["defaultDomain"] == "fabrikam.test"
    assert created["tenantId"] in runner.invoke(app, ["tenant", "list"], env={"COLUMNS": "250"}).output


def test_master_key_file_is_private_and_secrets_are_ciphertext(data_dir):
    runtime = Runtime(Settings()).start()
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    tenant = runtime.new_tenant_with_admin("t")
    with runtime.unit(tenant["tenantId"]) as ctx:
        app_doc = applications.create_application(ctx, applications.ApplicationBody(display_name="a"))
        owner = synchronization.resolve_owner(ctx, "applications", app_doc["id"])
        synchronization.merge_secrets(ctx, owner, [SecretPair(key="SecretToken", value="plain-marker-123")])
    with runtime.db.transaction() as conn:
        stored = conn.execute(select(sync_secrets.c.value)).scalar_one()
    assert "plain-marker-123" not in stored and stored.startswith("v1:")
    # a second start with the same key file reads the secret back
    again = Runtime(Settings()).start()
    with again.unit(tenant["tenantId"]) as ctx:
        owner = synchronization.resolve_owner(ctx, "applications", app_doc["id"])
        assert synchronization.read_secrets(ctx, owner) == {"SecretToken": "plain-marker-123"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_data_directory_and_its_database_files_are_private(tmp_path, backend):
    """Other users of the machine can read neither the database nor its log (they hold hashed client
    secrets, tokens' signing key and every directory object), nor list the data directory."""
    from contextlib import nullcontext

    from tests.conftest import throwaway_postgres
    with throwaway_postgres("graphsync_private") if backend == "postgresql" else nullcontext("") as url:
        check_private_data_dir(tmp_path / "nested" / "var", url)


def check_private_data_dir(data_dir, url: str) -> None:
    from sqlalchemy import text

    old_umask = os.umask(0o022)  # the usual one: files 0644 and directories 0755 unless asked otherwise
    try:
        runtime = Runtime(Settings(data_dir=data_dir, database_url=url, engine=False)).start()
    finally:
        os.umask(old_umask)
    try:
        runtime.new_tenant_with_admin("t")
        with runtime.db.reading() as conn:
            conn.execute(text("select count(*) from tenants"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data_dir.iterdir()}  # while the log exists
    finally:
        runtime.close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700, oct(data_dir.stat().st_mode)
    assert modes.get("master.key") == 0o600, modes
    if not url:
        assert {"graphsync.db", "graphsync.db-wal", "graphsync.db-shm", "graphsync.db.lock"} <= set(modes), modes
    assert all(mode == 0o600 for mode in modes.values()), {name: oct(mode) for name, mode in modes.items()}


def test_migrations_are_idempotent_on_both_backends(data_dir, request):
    urls = [""]
    try:
        urls.append(request.getfixturevalue("postgres_url"))
    except pytest.skip.Exception:
        pass
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from graphsync.store.db import MIGRATIONS
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    for url in urls:
        runtime = Runtime(Settings(database_url=url, engine=False, secret_key=TEST_SECRET_KEY)).start()
        runtime.db.migrate()  # a second run changes nothing and does not fail
        with runtime.db.transaction() as conn:
            version = conn.exec_driver_sql("select version_num from alembic_version").scalar_one()
        assert version == head
        assert {"applications", "sync_jobs", "directory_users", "sync_links", "provisioning_logs"} <= set(
            inspect(runtime.db.engine).get_table_names())
        runtime.close()


@contextmanager
def migrated_to(url: str, tmp_path, revision: str):
    """(a connection to a database migrated to ``revision``, a function that migrates it to the
    newest): PostgreSQL at ``url``, else a SQLite file. Everything commits at the end."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from graphsync.store.db import MIGRATIONS
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://") if url else
                           f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            yield conn, lambda: command.upgrade(config, "head")
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0009_keeps_applied_records_applied_and_pending_ones_to_apply(backend, tmp_path):
    """Before 0009 every applied inbound record was marked 'done'; since, the job's applied_seq
    covers them. Records still pending when a database is upgraded are applied, none twice."""
    from datetime import datetime, timezone

    from graphsync.services import inbound
    from graphsync.store.inbound_tables import inbound_records
    from tests.conftest import throwaway_postgres

    def upgraded(url: str) -> tuple[dict, dict]:
        with migrated_to(url, tmp_path, "0008") as (conn, upgrade):
            now = datetime(2026, 1, 1, tzinfo=timezone.utc)
            for job in ("busy", "done", "idle"):
                conn.exec_driver_sql("INSERT INTO sync_jobs (tenant_id, owner_id, id, template_id, doc, schema, "
                                     "state, created_at) VALUES ('t', 'o', %s, 'API2AAD', '{}', '{}', '{}', %s)"
                                     .replace("%s", "?" if not url else "%s"), (job, now))
            # busy: 1 applied, 2 left pending when processing isolated it, 3 applied after it, 4 pending
            for seq, job, status in ((1, "busy", "done"), (2, "busy", "pending"), (3, "busy", "done"),
                                     (4, "busy", "pending"), (5, "done", "done"), (6, "done", "failed")):
                conn.exec_driver_sql("INSERT INTO inbound_records (seq, tenant_id, job_id, received_at, bulk_id, "
                                     "data, status, attempts) VALUES (%s, 't', %s, %s, 'b', '{}', %s, 0)"
                                     .replace("%s", "?" if not url else "%s"), (seq, job, now, status))
            upgrade()
            applied = dict(conn.exec_driver_sql("SELECT id, applied_seq FROM sync_jobs").all())
            statuses = dict(conn.exec_driver_sql("SELECT seq, status FROM inbound_records").all())
            to_apply = {job: conn.execute(select(inbound_records.c.seq).where(inbound._unapplied("t", job, seq))
                                          .order_by(inbound_records.c.seq)).scalars().all()
                        for job, seq in applied.items()}
        return applied, statuses, to_apply

    if backend == "postgresql":
        with throwaway_postgres("graphsync_migration") as url:
            applied, statuses, to_apply = upgraded(url)
    else:
        applied, statuses, to_apply = upgraded("")
    assert applied == {"busy": 1, "done": 6, "idle": 0}
    assert statuses == {1: "done", 2: "received", 3: "done", 4: "received", 5: "done", 6: "failed"}
    assert to_apply == {"busy": [2, 4], "done": [], "idle": []}  # the engine's next batches


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0011_schedules_the_jobs_that_were_due(backend, tmp_path):
    """0011 adds sync_jobs.due_at: each job is found by the engine's index probe exactly when the
    former scan of every job would have run it."""
    import json as _json
    from datetime import datetime, timezone

    from graphsync.store.db import aware
    from tests.conftest import throwaway_postgres

    later = "2030-01-01T00:00:00+00:00"
    jobs = {  # id: (template, schedule state, engine state)
        "asked": ("scim", "Active", {"watermark": 5, "nextRunAt": later, "runRequested": True}),
        "scheduled": ("scim", "Active", {"watermark": 5, "nextRunAt": later}),
        "never-run": ("scim", "Active", {}),
        "paused": ("scim", "Paused", {"runRequested": True}),
        "inbound-restarted": ("API2AAD", "Active", {"resets": ["Escrows"]}),
        "inbound-idle": ("API2AAD", "Active", {}),
    }

    def upgraded(url: str) -> dict:
        with migrated_to(url, tmp_path, "0010") as (conn, upgrade):
            now = datetime(2026, 1, 1, tzinfo=timezone.utc)
            for job, (template, schedule, state) in jobs.items():
                conn.exec_driver_sql("INSERT INTO sync_jobs (tenant_id, owner_id, id, template_id, doc, schema, "
                                     "state, created_at) VALUES ('t', 'o', %s, %s, %s, '{}', %s, %s)"
                                     .replace("%s", "?" if not url else "%s"),
                                     (job, template, _json.dumps({"schedule": {"state": schedule}}),
                                      _json.dumps(state), now))
            upgrade()
            return {job: (aware(at if isinstance(at, datetime) else datetime.fromisoformat(at)).isoformat() if at else None)
                    for job, at in conn.exec_driver_sql("SELECT id, due_at FROM sync_jobs").all()}

    if backend == "postgresql":
        with throwaway_postgres("graphsync_migration") as url:
            due = upgraded(url)
    else:
        due = upgraded("")
    at_once = "2000-01-01T00:00:00+00:00"
    assert due == {"asked": at_once, "scheduled": later, "never-run": at_once, "paused": None,
                   "inbound-restarted": at_once, "inbound-idle": None}


def test_expr_eval_with_trace(tmp_path):
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"givenName": "Zoë", "surname": "Smith"}))
    result = runner.invoke(app, ["expr", "eval", 'ToLower(NormalizeDiacritics(Join(".", [givenName], [surname])))',
                                 "--input", str(user), "--trace"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith('"zoe.smith"')
    assert "[givenName]" in result.output and '"Zoë.Smith"' in result.output  # the trace shows each step


def test_expr_eval_syntax_error_points_at_the_position():
    result = runner.invoke(app, ["expr", "eval", 'Join("@", [a]'])
    assert result.exit_code == 2
    assert "syntax error at 13" in result.output


def test_processes_starting_together_agree_on_one_master_key(tmp_path):
    """serve and workers started at once on a new data directory: every one gets the same key."""
    from concurrent.futures import ThreadPoolExecutor

    from graphsync.crypto import load_key
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_key("", tmp_path), range(16)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600


def test_sqlite_write_ahead_log_reaches_the_database_file_while_the_process_runs(tmp_path):
    """Commits do not checkpoint (a bulk writer would pay for it); the checkpointer thread moves
    the log into the database file in the background, so the file holds the data and the log
    stays short without waiting for the process to stop."""
    from sqlalchemy import text

    from tests.waiting import eventually
    runtime = Runtime(Settings(data_dir=tmp_path, engine=False, secret_key=TEST_SECRET_KEY)).start()
    database = tmp_path / "graphsync.db"
    assert database.exists()
    with runtime.db.transaction() as conn:
        conn.execute(text("create table ballast (payload text)"))
        conn.execute(text("insert into ballast values (:p)"), [{"p": "x" * 4000} for _ in range(1000)])
    eventually(lambda: database.stat().st_size > 4_000_000, timeout=20)
    with runtime.db.transaction() as conn:  # what was checkpointed is intact
        assert conn.execute(text("select count(*), min(length(payload)) from ballast")).one() == (1000, 4000)
    runtime.close()
    assert not runtime.db._checkpointer._thread.is_alive()  # closing stops it


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_read_only_unit_refuses_to_write_and_leaves_the_data_as_it_was(backend, tmp_path, request):
    """GET requests run in read-only units (they do not wait for writers on SQLite); a write slipped
    into one must fail loudly, not take the write lock unannounced."""
    from sqlalchemy import func, insert

    from graphsync.services import tenants
    from graphsync.store.tables import tenants as tenants_table
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=url, engine=False,
                               secret_key=TEST_SECRET_KEY)).start()
    try:
        with runtime.db.reading() as conn:
            before = conn.execute(select(func.count()).select_from(tenants_table)).scalar_one()
        with pytest.raises(Exception, match="(?i)read.?only|readonly"):
            with runtime.db.reading() as conn:
                conn.execute(insert(tenants_table).values(id="read-only-test", display_name="x",
                                                          default_domain="x.example", created_at=runtime.clock.now()))
        with runtime.db.transaction() as conn:
            assert conn.execute(select(func.count()).select_from(tenants_table)).scalar_one() == before
            assert tenants.get_tenant(conn, "read-only-test") is None
    finally:
        runtime.close()


def test_postgresql_plans_follow_the_data_and_compresses_documents_with_lz4(postgres_url):
    """psycopg prepares a statement run five times; with a generic plan made while a bulk load's
    tables were nearly empty, lookups by key later scanned whole tables (inbound ran 10x slower
    than on SQLite). Our sessions always plan with the parameters; large documents use lz4."""
    from sqlalchemy import text
    runtime = Runtime(Settings(database_url=postgres_url, engine=False, secret_key=TEST_SECRET_KEY)).start()
    with runtime.db.transaction() as conn:
        assert conn.execute(text("show plan_cache_mode")).scalar_one() == "force_custom_plan"
        lz4 = conn.execute(text("select 'lz4' = any(enumvals) from pg_settings "
                                "where name = 'default_toast_compression'")).scalar_one()
        compression = dict(conn.execute(text(
            "select c.relname, a.attcompression from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "where (c.relname, a.attname) in (('provisioning_logs', 'doc'), ('directory_users', 'doc'))")).all())
    runtime.close()
    if lz4:  # the local server (and CI's) is built with lz4
        assert compression == {"provisioning_logs": "l", "directory_users": "l"}


def test_postgresql_statistics_are_refreshed_as_a_bulk_load_grows_the_tables(postgres_url):
    """Autovacuum may be off or minutes behind: after 5,000 rows added by bulk writers, and again
    each time that doubles, the lookup tables are analyzed (plans then use the right indexes)."""
    from sqlalchemy import text
    runtime = Runtime(Settings(database_url=postgres_url, engine=False, secret_key=TEST_SECRET_KEY)).start()

    def analyzed() -> int:
        with runtime.db.transaction() as conn:
            return conn.execute(text("select analyze_count from pg_stat_user_tables "
                                     "where relname = 'directory_users'")).scalar_one()

    before = analyzed()
    runtime.db.grew(4999)
    assert analyzed() == before
    runtime.db.grew(1)
    first = eventually_more(analyzed, before)
    runtime.db.grew(4999)  # 5,000 were added before the last ANALYZE: the next one waits for as many
    assert analyzed() == first
    runtime.db.grew(1)
    eventually_more(analyzed, first)
    runtime.close()


def eventually_more(read, than: int) -> int:
    """pg_stat_user_tables is updated asynchronously by the statistics collector."""
    from tests.waiting import eventually
    return eventually(lambda: read() > than and read(), timeout=20)


def test_a_long_running_process_takes_its_startup_objects_out_of_full_collections(tmp_path):
    """serve and worker call freeze_startup_heap once set up: what is alive then (modules, app,
    runtime) is no longer walked by every full collection; later garbage is still collected."""
    import gc
    import weakref

    from graphsync.runtime.runtime import freeze_startup_heap
    runtime = Runtime(Settings(data_dir=tmp_path, engine=False, secret_key=TEST_SECRET_KEY)).start()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 10_000  # the runtime, the app's modules and their objects

        class Node:
            pass
        later = Node()
        later.self = later  # a reference cycle made after the freeze
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        runtime.close()
