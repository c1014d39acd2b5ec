"""A page that cannot be shown, as an HTTP status and one line saying why, and where the app is mounted."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from mrm.errors import MrmError
from mrm.ui.html import e, link, page


class HttpProblem(MrmError):
    """A page that cannot be shown; ``status`` is the HTTP status, the message says why; ``back``: a
    link (href, text) to offer instead of the portfolio."""

    def __init__(self, status: int, title: str, message: str, back: tuple[str, str] | None = None):
        super().__init__(message)
        self.status, self.title, self.back = status, title, back


def base_of(request: Request) -> str:
    """Where this app is mounted (``/model-risk`` in Airflow; ``""`` when served on its own)."""
    return request.scope.get("root_path", "").rstrip("/")


def problem_page(request: Request, exc: HttpProblem) -> HTMLResponse:
    base = base_of(request)
    back = link(base + exc.back[0], exc.back[1]) if exc.back else link(base + "/", "← Portfolio")
    content = f"<h1>{e(exc.title)}</h1><p>{e(str(exc))}</p><p>{back}</p>"
    return HTMLResponse(page(exc.title, content, base), status_code=exc.status)
