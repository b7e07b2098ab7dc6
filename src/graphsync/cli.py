"""The graphsync command line."""
from __future__ import annotations

import json
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
    host: Optional[str] = typer.Option(None, help="Interface to listen on [env GRAPHSYNC_HOST, default 127.0.0.1]."),
    port: Optional[int] = typer.Option(None, help="Port [env GRAPHSYNC_PORT, default 8080]."),
    memory: bool = typer.Option(False, "--memory", help="Throw-away in-memory store (nothing is kept)."),
    emulator: bool = typer.Option(False, "--emulator", help="Enable POST /graphsync/tenants for tests."),
    workers: int = typer.Option(1, help="Uvicorn worker processes (PostgreSQL only)."),
):
    """Run the Graph-compatible server (SQLite under ./var by default)."""
    import uvicorn

    from graphsync.api.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if memory:
        overrides["database_url"] = "memory"
    if emulator:
        overrides["emulator"] = True
    settings = Settings(**overrides)
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        raise typer.BadParameter("several workers need PostgreSQL (GRAPHSYNC_DATABASE_URL)")
    store = "in-memory (throw-away)" if settings.in_memory else settings.resolved_database_url.split("@")[-1]
    console.print(f"[bold]graphsync[/] on [cyan]{settings.base_url}[/] — store: {store}")
    console.print(f"  Graph base URL: {settings.base_url}/v1.0   token: graphsync token")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level,
                access_log=False)


@app.command()
def token(
    tenant: Optional[str] = typer.Option(None, help="Tenant id (default: the local default tenant)."),
    role: list[str] = typer.Option(list(tenants.ADMIN_ROLES), "--role", "-r", help="Permission to put in the token."),
):
    """Print a ready bearer token (for using graphsync as an emulator)."""
    runtime = _runtime()
    tenant_id = tenant or runtime.settings.default_tenant_id
    with runtime.db.transaction() as conn:
        found = tenants.get_tenant(conn, tenant_id)
    if found is None:
        raise typer.BadParameter(f"no tenant '{tenant_id}'")
    bad = [r for r in role if r not in tenants.KNOWN_ROLES]
    if bad:
        raise typer.BadParameter(f"unknown permission(s): {', '.join(bad)}")
    typer.echo(runtime.tokens.issue(found.id, "graphsync-cli", role, runtime.clock.now(), "graphsync CLI"))


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
