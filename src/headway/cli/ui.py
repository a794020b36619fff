"""``headway ui``: the dashboard and control-plane REST API."""

from __future__ import annotations

import ipaddress

import typer

from headway.cli._app import app, console, err_console, fail_cleanly

LOOPBACK_NAMES = ("localhost", "127.0.0.1")


@app.command("ui")
@fail_cleanly
def ui(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 exposes it."),
    port: int = typer.Option(8765, min=1, max=65535, help="TCP port."),
) -> None:
    """Serve the dashboard (overview, deployments, runs, models, data reports, review
    queue) and its REST API under /api, with the OpenAPI spec at /api/openapi.json."""
    import uvicorn

    from headway._heap import freeze_heap
    from headway.ui import create_app
    from headway.workspace import current_workspace

    ws = current_workspace()
    loopback = _is_loopback(host)
    if not loopback and not ws.settings.token:
        err_console.print(
            f"[bold yellow]warning:[/] {host} is reachable from other machines and no token is "
            "configured: anyone who can reach it can label reviews and acknowledge alerts. Set "
            "HEADWAY_TOKEN (or [auth] token in headway.toml)."
        )
    # On a loopback address, answer only to its own names: DNS rebinding cannot reach it.
    allowed = [*LOOPBACK_NAMES, host] if loopback else None
    access = "token required" if ws.settings.token else "no token: open"
    console.print(f"Headway dashboard on http://{host}:{port} ({access}); API at /api")
    app = create_app(ws, allowed_hosts=allowed)
    freeze_heap()  # the libraries and the app, never again walked by a collection
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
