"""The graphsync command line."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphsync.config import Settings
from graphsync.services import tenants

app = typer.Typer(
    help="graphsync — the Microsoft Graph synchronization API (Entra provisioning) you can run yourself.\n\n"
         "Start the server with 'graphsync serve', get a token with 'graphsync token', then point the "
         "Microsoft Graph SDK at http://127.0.0.1:8080/v1.0.",
    no_args_is_help=True, rich_markup_mode="rich", add_completion=False)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
client_app = typer.Typer(help="Manage OAuth clients and the Graph permissions granted to them.", no_args_is_help=True)
expr_app = typer.Typer(help="Try attribute-mapping expressions (the provisioning expression language).",
                       no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(client_app, name="client")
app.add_typer(expr_app, name="expr")
console = Console()


def _table(*columns: str) -> Table:
    """A table that folds long values (ids) instead of cutting them off."""
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _runtime(settings: Settings | None = None):
    from graphsync.runtime.runtime import Runtime
    return Runtime(settings or Settings()).start()


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Interface to listen on (env GRAPHSYNC_HOST, default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (env GRAPHSYNC_PORT, default 8080)."),
    memory: bool = typer.Option(False, "--memory", help="Throw-away in-memory store (nothing is kept)."),
    emulator: bool = typer.Option(False, "--emulator", help="Enable POST /graphsync/tenants for tests."),
    workers: int = typer.Option(1, help="Uvicorn worker processes (PostgreSQL only)."),
    engine: Optional[bool] = typer.Option(
        None, "--engine/--no-engine",
        help="Run provisioning in this process too (env GRAPHSYNC_ENGINE, default on); with --no-engine the "
             "server only answers the API and 'graphsync worker' processes do the provisioning."),
):
    """Run the Graph-compatible server (SQLite under ./var by default)."""
    import os

    import uvicorn

    from graphsync.api.app import create_app
    from graphsync.metrics import configure_logging, shared_between_workers

    overrides = {k: v for k, v in {"host": host, "port": port, "engine": engine}.items() if v is not None}
    if memory:
        overrides["database_url"] = "memory"
    if emulator:
        overrides["emulator"] = True
    settings = Settings(**overrides)
    configure_logging(settings.log_level)  # the engine's lines (one per cycle) beside uvicorn's
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        raise typer.BadParameter("several workers need PostgreSQL (GRAPHSYNC_DATABASE_URL)")
    store = "in-memory (throw-away)" if settings.in_memory else settings.resolved_database_url.split("@")[-1]
    console.print(f"[bold]graphsync[/] on [cyan]{settings.base_url}[/] — store: {store}")
    console.print(f"  Graph base URL: {settings.base_url}/v1.0")
    application = None
    if settings.in_memory:  # its signing key lives in this process only: no 'graphsync token' can sign for it
        application = create_app(settings)
        _print_memory_credentials(application.state.runtime)
    else:
        typer.echo(f"  token: {token_command(settings)}")
    if not settings.engine:
        console.print("  provisioning engine: off (run 'graphsync worker' beside this server)")
    if workers > 1:
        # uvicorn starts worker processes from an import string; they read the settings from the
        # environment, so the options given here travel there
        for name, value in overrides.items():
            os.environ[f"GRAPHSYNC_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        with shared_between_workers():  # /metrics sums the counters of every worker process
            uvicorn.run("graphsync.api.app:factory", factory=True, workers=workers, host=settings.host,
                        port=settings.port, log_level=settings.log_level, access_log=False)
        return
    from graphsync.runtime.runtime import freeze_startup_heap

    application = application or create_app(settings)
    freeze_startup_heap()
    uvicorn.run(application, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)


DEFAULT_SETTINGS = Settings.model_construct()  # the defaults alone, without the environment


def token_command(settings: Settings) -> str:
    """The 'graphsync token' command line whose tokens a server with ``settings`` accepts: the same
    issuer (its base URL) and the same signing key (its data directory or database)."""
    command = "graphsync token"
    if settings.base_url != DEFAULT_SETTINGS.base_url:
        command += f" --url {settings.base_url}"
    if settings.database_url:
        return f"{command}   (with this server's GRAPHSYNC_DATABASE_URL and GRAPHSYNC_SECRET_KEY)"
    if settings.data_dir.resolve() != DEFAULT_SETTINGS.data_dir.resolve():
        command += f" --data-dir {settings.data_dir.resolve()}"
    if settings.secret_key:
        command += "   (with this server's GRAPHSYNC_SECRET_KEY)"
    return command


def _print_memory_credentials(runtime) -> None:
    """A token for the default tenant, and a client whose secret gets more from the token endpoint."""
    settings, now = runtime.settings, runtime.clock.now()
    with runtime.db.transaction() as conn:
        client, secret = tenants.create_client(conn, now, settings.default_tenant_id, "graphsync serve --memory",
                                               tenants.ADMIN_ROLES)
    token = runtime.tokens.issue(settings.default_tenant_id, client.client_id, client.roles, now, client.display_name)
    minutes = settings.token_lifetime_seconds // 60
    # plain echo: rich would wrap the token at the terminal's width
    typer.echo(f"  token (valid {minutes} min; the store is in memory, so 'graphsync token' cannot sign for it):")
    typer.echo(f"    {token}")
    typer.echo("  more tokens: curl -s -d grant_type=client_credentials -d scope=https://graph.microsoft.com/.default "
               f"-d client_id={client.client_id} -d client_secret={secret} "
               f"{settings.base_url}/{settings.default_tenant_id}/oauth2/v2.0/token")


@app.command()
def worker(
    metrics_port: Optional[int] = typer.Option(None, help="Serve this worker's Prometheus metrics on this port "
                                                          "(GET /metrics; GRAPHSYNC_METRICS_TOKEN applies)."),
    metrics_host: str = typer.Option("127.0.0.1", help="Interface for --metrics-port."),
):
    """Run provisioning (outbound cycles, bulkUpload records) without an HTTP server.

    Uses the database, settings and GRAPHSYNC_* environment of 'serve'; run it beside 'serve --no-engine'.

    Any number may run: a job runs in one process at a time (job leases).

    Ctrl-C or SIGTERM stops once the objects under way (or the current inbound batch) are done;
    a second one stops at once."""
    import logging
    import os
    import signal
    import threading

    from graphsync.runtime.runtime import Runtime, freeze_startup_heap

    settings = Settings()
    if settings.in_memory:
        raise typer.BadParameter("a worker needs a database the server shares (GRAPHSYNC_DATABASE_URL or the "
                                 "SQLite file under GRAPHSYNC_DATA_DIR), not the in-memory store")
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    stopping = threading.Event()

    def stop(signum, _frame) -> None:
        if stopping.is_set():
            os._exit(128 + signum)  # asked twice: leases left behind expire on their own
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    runtime = Runtime(settings).start()
    runtime.load_engine()  # its modules are part of the heap frozen next
    freeze_startup_heap()
    if metrics_port:  # up before the worker says it runs
        from graphsync.metrics import serve_worker_metrics
        serve_worker_metrics(metrics_port, metrics_host, settings.metrics_token)
        console.print(f"  metrics: http://{metrics_host}:{metrics_port}/metrics")
    runtime.start_engine()
    store = settings.resolved_database_url.split("@")[-1]
    console.print(f"[bold]graphsync worker[/] (pid {os.getpid()}) running — store: {store}")
    while not stopping.wait(1.0):
        if not runtime.scheduler.running:  # pragma: no cover - the loop catches everything
            break
    console.print("graphsync worker: stopping once the work under way is done …")
    runtime.scheduler.stop(timeout=None)
    runtime.scheduler = None
    runtime.close()
    console.print("graphsync worker: stopped")


@app.command()
def token(
    tenant: Optional[str] = typer.Option(None, help="Tenant id (default: the local default tenant)."),
    role: list[str] = typer.Option(list(tenants.ADMIN_ROLES), "--role", "-r", help="Permission to put in the token."),
    url: Optional[str] = typer.Option(
        None, help="The server's URL (as 'graphsync serve' printed it, or any URL that reaches it): its tokens "
                   "name it as their issuer. A running server is asked for its issuer and signing key. "
                   "Default: GRAPHSYNC_PUBLIC_URL, else http://GRAPHSYNC_HOST:GRAPHSYNC_PORT."),
    data_dir: Optional[Path] = typer.Option(None, help="The server's data directory (env GRAPHSYNC_DATA_DIR, "
                                                        "default ./var): where its signing key is."),
):
    """Print a ready bearer token for the server that uses this data directory (or database).

    Start-up of 'graphsync serve' prints the exact command for it; a 'serve --memory' server prints a
    token itself."""
    overrides: dict = {"data_dir": data_dir} if data_dir is not None else {}
    if url:
        overrides["public_url"] = url.rstrip("/")
    settings = Settings(**overrides)
    if settings.in_memory:
        raise typer.BadParameter("an in-memory store has its keys in the server's process only; "
                                 "'graphsync serve --memory' prints a token at start-up", param_hint="--url")
    runtime = _runtime(settings)
    tenant_id = tenant or runtime.settings.default_tenant_id
    with runtime.db.transaction() as conn:
        found = tenants.get_tenant(conn, tenant_id)
    if found is None:
        raise typer.BadParameter(f"no tenant '{tenant_id}'")
    bad = [r for r in role if r not in tenants.KNOWN_ROLES]
    if bad:
        raise typer.BadParameter(f"unknown permission(s): {', '.join(bad)}")
    if url:
        _match_running_server(runtime, url.rstrip("/"), found.id)
    typer.echo(runtime.tokens.issue(found.id, "graphsync-cli", role, runtime.clock.now(), "graphsync CLI"))


def _match_running_server(runtime, url: str, tenant_id: str) -> None:
    """Take the issuer of the server at ``url`` (it may be reached by another name than the one it
    calls itself, e.g. 127.0.0.1 for a server on 0.0.0.0), and make sure it verifies with the key
    this data directory holds. A server that does not answer is left alone (a token for later)."""
    import httpx

    try:
        metadata = httpx.get(f"{url}/{tenant_id}/v2.0/.well-known/openid-configuration", timeout=5)
        keys = httpx.get(f"{url}/{tenant_id}/discovery/v2.0/keys", timeout=5)
        issuer = metadata.json()["issuer"] if metadata.status_code == 200 else None
        kids = {key.get("kid") for key in keys.json().get("keys", [])} if keys.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return  # not running, or not graphsync: the token names the URL given
    if not isinstance(issuer, str) or kids is None:
        return
    if runtime.tokens.keys.kid not in kids:
        raise typer.BadParameter(
            f"the server at {url} does not sign with the key of {runtime.settings.data_dir.resolve()} "
            f"({runtime.settings.resolved_database_url.split('@')[-1]}): give the server's --data-dir, or its "
            "GRAPHSYNC_DATABASE_URL and GRAPHSYNC_SECRET_KEY (a 'serve --memory' server printed a token at "
            "start-up)", param_hint="--url")
    suffix = f"/{tenant_id}/v2.0"
    if issuer.endswith(suffix):
        runtime.tokens.base_url = issuer[:-len(suffix)]


@tenant_app.command("create")
def tenant_create(name: str = typer.Argument(..., help="Display name."),
                  domain: Optional[str] = typer.Option(None, help="Default domain, e.g. contoso.com.")):
    """Create a tenant."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        created = tenants.create_tenant(conn, runtime.clock.now(), name, domain)
    console.print_json(json.dumps({"tenantId": created.id, "displayName": created.display_name,
                                   "defaultDomain": created.default_domain}))


@tenant_app.command("list")
def tenant_list():
    """List tenants."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        rows = tenants.list_tenants(conn)
    table = _table("tenant id", "display name", "default domain")
    for t in rows:
        table.add_row(t.id, t.display_name, t.default_domain)
    console.print(table)


@client_app.command("create")
def client_create(
    name: str = typer.Argument(..., help="Display name of the client."),
    tenant: Optional[str] = typer.Option(None, help="Tenant id (default: the local default tenant)."),
    role: list[str] = typer.Option(["Synchronization.ReadWrite.All"], "--role", "-r",
                                   help="Graph permission to grant (repeat for several)."),
):
    """Create a client; prints its id and secret (the secret is shown only once)."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        client, secret = tenants.create_client(conn, runtime.clock.now(), tenant or runtime.settings.default_tenant_id,
                                               name, role)
    console.print_json(json.dumps({
        "clientId": client.client_id, "clientSecret": secret, "tenantId": client.tenant_id,
        "roles": list(client.roles),
        "tokenEndpoint": f"{runtime.settings.base_url}/{client.tenant_id}/oauth2/v2.0/token"}))


@client_app.command("list")
def client_list(tenant: Optional[str] = typer.Option(None, help="Only this tenant's clients.")):
    """List clients and their permissions."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        rows = tenants.list_clients(conn, tenant)
    table = _table("client id", "tenant", "name", "permissions")
    for c in rows:
        table.add_row(c.client_id, c.tenant_id, c.display_name, ", ".join(c.roles))
    console.print(table)


@client_app.command("grant")
def client_grant(client_id: str, role: list[str] = typer.Option(..., "--role", "-r",
                                                                help="The complete set of permissions.")):
    """Set the permissions of a client (replaces what it had)."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        client = tenants.set_client_roles(conn, client_id, role)
    console.print(f"{client.client_id}: {', '.join(client.roles)}")


@client_app.command("delete")
def client_delete(client_id: str):
    """Delete a client (its tokens stop being issued; issued ones expire)."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        tenants.delete_client(conn, client_id)
    console.print(f"deleted {client_id}")


@expr_app.command("eval")
def expr_eval(
    expression: str = typer.Argument(..., help='e.g. \'Join("@", ToLower([givenName]), "contoso.com")\''),
    input_file: Optional[typer.FileText] = typer.Option(None, "--input", "-i",
                                                        help="JSON object of source attributes."),
    trace: bool = typer.Option(False, "--trace", help="Show every sub-expression and its value."),
    domain: str = typer.Option("contoso.com", help="What DefaultDomain() returns."),
):
    """Evaluate an expression against a JSON object of attributes."""
    from graphsync import expressions

    attributes = json.load(input_file) if input_file else {}
    if not isinstance(attributes, dict):
        raise typer.BadParameter("the input must be a JSON object of attribute values", param_hint="--input")
    try:
        node = expressions.parse(expression)
    except expressions.ExpressionError as exc:
        console.print(f"[red]syntax error[/] at {exc.position}: {exc.message}")
        console.print(f"  {expression}\n  {' ' * exc.position}^", markup=False, highlight=False)
        raise typer.Exit(2) from None
    context = expressions.EvaluationContext(default_domain=domain)
    try:
        value, steps = expressions.evaluate_traced(node, attributes, context)
    except expressions.EvaluationError as exc:
        console.print(f"[red]evaluation failed:[/] {exc}")
        raise typer.Exit(1) from None
    if trace:
        table = _table("sub-expression", "value")
        for text, step_value in steps:
            table.add_row(escape(text), escape(json.dumps(_plain(step_value), ensure_ascii=False)))
        console.print(table)
    typer.echo(json.dumps(_plain(value), ensure_ascii=False))


def _plain(value):
    """A value as JSON shows it: markers spelled out, redactions hidden."""
    from graphsync import expressions
    if value is expressions.IGNORE_FLOW:
        return "<IgnoreFlow: the attribute is not sent>"
    return expressions.for_log(value) if not isinstance(value, list) else [_plain(v) for v in value]


# ------------------------------------------------------------------------------------------------
# graphsync upload: worker records from a CSV or JSON file to an API-driven inbound job

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE_ATTRIBUTES = ("employeeNumber", "costCenter", "organization", "division", "department", "manager")
_FILTERED = re.compile(r'^(?P<attr>[^\[\].]+)\[\s*type\s+eq\s+"(?P<type>[^"]*)"\s*\](?:\.(?P<sub>[^.\[\]]+))?$',
                       re.I)


def scim_record(row: dict) -> dict:
    """A SCIM user for ``/bulkUpload`` from a row whose keys are the attribute names of the job's
    API directory (``userName``, ``name.givenName``, ``emails[type eq "work"].value``,
    ``urn:…:enterprise:2.0:User:department`` or just ``department``, ``urn:contoso:employee:HireDate``…).
    Values that are already SCIM (objects, lists) are kept; empty cells are left out."""
    data: dict = {}
    namespaces: list[str] = []
    for key, value in row.items():
        if key is None or value is None or (isinstance(value, str) and not value.strip()):
            continue
        key = key.strip()
        if key == "schemas":
            continue
        if isinstance(value, str):
            value = value.strip()
        if key.startswith("urn:") and ":" in key[4:]:
            head = key.split("[", 1)[0]
            if isinstance(value, dict) and head == key:  # a whole extension object
                namespace, path = key, None
            else:
                cut = head.rfind(":")
                namespace, path = key[:cut], key[cut + 1:]
        elif key in ENTERPRISE_ATTRIBUTES:
            namespace, path = ENTERPRISE_USER, key
        else:
            namespace, path = None, key
        target = data
        if namespace is not None:
            if namespace not in namespaces:
                namespaces.append(namespace)
            target = data.setdefault(namespace, {})
            if path is None:
                target.update(value)
                continue
        if path == "active" and namespace is None:
            value = _boolean(value)
        if path == "manager" and isinstance(value, str):
            value = {"value": value}
        _set_path(target, path, value)
    data["schemas"] = [CORE_USER] + [n for n in namespaces if n != CORE_USER]
    return data


def _boolean(value):
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "y"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no", "n"):
        return False
    return value


def _set_path(target: dict, path: str, value) -> None:
    match = _FILTERED.match(path)
    if match:
        items = target.setdefault(match.group("attr"), [])
        item = next((i for i in items if isinstance(i, dict) and i.get("type") == match.group("type")), None)
        if item is None:
            item = {"type": match.group("type")}
            items.append(item)
        item[match.group("sub") or "value"] = value
        return
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def read_workers(path: str) -> list[dict]:
    """Worker records of a CSV file (a header row of attribute names) or a JSON file (an array of
    records, or an object with ``Resources``/``value``, or a BulkRequest's ``Operations``)."""
    import csv
    from pathlib import Path

    file = Path(path)
    if file.suffix.lower() == ".csv":
        with file.open(newline="", encoding="utf-8-sig") as handle:
            return [scim_record(row) for row in csv.DictReader(handle)]
    document = json.loads(file.read_text(encoding="utf-8"))
    if isinstance(document, dict):
        document = (document.get("Resources") or document.get("value")
                    or [op.get("data") for op in document.get("Operations") or []])
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise typer.BadParameter("a JSON file must hold an array of worker records", param_hint="FILE")
    return [scim_record(r) for r in document]


def bulk_requests(records: list[dict], size: int) -> list[dict]:
    requests = []
    for start in range(0, len(records), size):
        operations, seen = [], set()
        for index, record in enumerate(records[start:start + size], start):
            bulk_id = str(record.get("externalId") or index)
            if bulk_id in seen:
                bulk_id = f"{bulk_id}#{index}"
            seen.add(bulk_id)
            operations.append({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": record})
        requests.append({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations,
                         "failOnErrors": None})
    return requests


@app.command()
def upload(
    file: str = typer.Argument(..., help="A .csv (header row of attribute names) or .json file of workers."),
    job: str = typer.Option(..., "--job", help="The API2AAD job id, or its whole bulkUpload URL."),
    service_principal: Optional[str] = typer.Option(None, "--service-principal", "--sp",
                                                    help="The service principal of the job (with a job id)."),
    url: str = typer.Option("http://127.0.0.1:8080", help="graphsync's base URL."),
    token: Optional[str] = typer.Option(None, envvar="GRAPHSYNC_TOKEN",
                                        help="A bearer token with SynchronizationData-User.Upload "
                                             "(env GRAPHSYNC_TOKEN)."),
    batch_size: int = typer.Option(50, "--batch-size", min=1, help="Records per bulk request (Entra's limit: 50)."),
    rate: float = typer.Option(40, help="Requests per second at most (Entra's limit: 40; 0 = no pacing)."),
):
    """Send worker records to an API-driven inbound provisioning job (bulkUpload), 50 per request."""
    import time

    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not token:
        raise typer.BadParameter('a token is needed: --token or GRAPHSYNC_TOKEN (for the local server: '
                                 '--token "$(graphsync token)")')
    if job.startswith(("http://", "https://")):
        endpoint = job
    elif service_principal:
        endpoint = (f"{url.rstrip('/')}/v1.0/servicePrincipals/{service_principal}/synchronization/jobs/"
                    f"{job}/bulkUpload")
    else:
        raise typer.BadParameter("give the job's service principal (--sp) or the whole bulkUpload URL as --job")
    try:
        records = read_workers(file)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc}", param_hint="FILE") from None
    missing = [i + 1 for i, r in enumerate(records) if not r.get("externalId")]
    if missing:
        raise typer.BadParameter(f"record(s) {', '.join(map(str, missing[:10]))} have no externalId", param_hint="FILE")
    requests = bulk_requests(records, batch_size)
    failures: list[str] = []
    refused = 0
    location = None
    interval = 1 / rate if rate > 0 else 0
    next_at = time.monotonic()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    columns = (TextColumn("[bold]uploading"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
               TimeRemainingColumn())
    with httpx.Client(timeout=120, headers=headers) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task("upload", total=len(records))
        for body in requests:
            for _attempt in range(20):
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at, time.monotonic()) + interval
                try:
                    response = client.post(endpoint, content=json.dumps(body))
                except httpx.HTTPError as exc:
                    console.print(f"[red]error:[/] {endpoint} is not reachable ({exc})")
                    raise typer.Exit(1) from None
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("Retry-After") or 1))
            count = len(body["Operations"])
            if response.status_code == 202:
                location = response.headers.get("Location") or location
            elif response.status_code in (401, 403, 404):
                console.print(f"[red]error:[/] {response.status_code} {_graph_message(response)}")
                raise typer.Exit(1)
            else:
                refused += count
                first = body["Operations"][0]["bulkId"]
                failures.append(f"{count} records from {first}: {response.status_code} {_graph_message(response)}")
            progress.advance(task, count)
    console.print(f"{len(records) - refused} of {len(records)} records accepted in {len(requests)} requests.")
    for failure in failures:
        console.print(f"[red]refused:[/] {escape(failure)}")
    if location:
        console.print(f"The job applies them asynchronously; follow them in the provisioning logs:\n  {location}")
    if failures:
        raise typer.Exit(1)


def _graph_message(response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


def main() -> None:
    """Entry point: Graph errors from the services are shown as one line, not a traceback."""
    from graphsync.errors import GraphError
    try:
        app()
    except GraphError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
