"""``seg console``: the web console of the workspace's control plane, in the browser.

With the embedded control plane (``api_url: embedded``) it serves the console on 127.0.0.1
(a free port unless ``--port``) until interrupted, and opens the browser with a one-time
sign-in link, so nobody copies a token. With a served control plane it opens that server's
``/console`` page (sign in there with a token).
"""

from __future__ import annotations

import os
import socket
import webbrowser
from typing import Annotated

import typer

from seg.commands.console import err_console, handle_errors, out_console
from seg.commands.options import ApiUrlOpt, DebugOpt, EnvOpt, WorkspaceOpt, workspace_dir
from seg.commands.session import api_url_of
from seg.errors import ConfigError
from seg.model.urls import redact_url
from seg.workspace.config import read_config

__all__ = ["register"]


@handle_errors
def console_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, metavar="PORT",
                          help="Port for the embedded control plane's console (0: a free one).")
    ] = 0,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the console in the browser.")
    ] = True,
    debug: DebugOpt = False,
) -> None:
    """Open the web console: resources, history, audit trail, lock, apply runs, plans and
    the graph. The embedded control plane is served on 127.0.0.1 until Ctrl-C."""
    config = read_config(workspace_dir(workspace), env)
    url = api_url_of(config, api_url)
    if url != "embedded":
        page = url.rstrip("/") + "/console/"
        out_console().print(f"The console of {redact_url(url)}: {redact_url(page)}", markup=False,
                            soft_wrap=True,
                          highlight=False)  # fmt: skip
        if browser:
            webbrowser.open(page)
        return
    _serve_embedded(config.root, config.workspace, port, browser)


def _serve_embedded(root: os.PathLike[str], workspace: str, port: int, browser: bool) -> None:
    from pathlib import Path

    import uvicorn

    from seg.embedded import embedded_control_plane
    from seg.server.app import create_app
    from seg.server.auth import hash_token
    from seg.web import PREFIX, mount

    cp, token = embedded_control_plane(Path(root), workspace)
    app = create_app(cp, access_log=False)
    sessions = mount(app, cp)
    code = sessions.issue_link(cp.workspaces.authenticate(token).token_id, hash_token(token))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        sock.listen(64)
        bound = sock.getsockname()[1]
        link = f"http://127.0.0.1:{bound}{PREFIX}/sign-in/link?code={code}"
        # the one-time link signs this browser in; printed for a browser opened by hand
        err_console().print(f"seg console on http://127.0.0.1:{bound}{PREFIX}/ (Ctrl-C stops "
                          f"it)\nsign in once with: {link}", markup=False, soft_wrap=True,
                          highlight=False)  # fmt: skip
        if browser:
            webbrowser.open(link)
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("console")(console_cmd)
