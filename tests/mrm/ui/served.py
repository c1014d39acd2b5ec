"""The page's app under a real server (uvicorn on a free port) for browser tests, and CSP parsing."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from fastapi import FastAPI

from mrm.ui import URL_PREFIX


def directives(csp: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [values]}."""
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@contextmanager
def serving_root(root):
    """The ASGI app ``root`` under uvicorn on a free port; yields the base URL."""
    import uvicorn

    from mrm.demo.s3 import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(app):
    """``app`` mounted at /model-risk, served; yields the base URL."""
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    with serving_root(root) as base:
        yield base
