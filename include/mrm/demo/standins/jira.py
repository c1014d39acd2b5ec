"""A local Jira on 127.0.0.1: the REST endpoints mrm uses, with the request and response shapes of
Atlassian's published references.

* Jira Cloud platform REST API v3 (developer.atlassian.com/cloud/jira/platform/rest/v3): Issues
  (``POST /issue``, ``GET``/``PUT /issue/{key}``, ``GET``/``POST /issue/{key}/transitions``), Issue
  search (the enhanced search ``POST``/``GET /search/jql``, answering ``{"issues", "isLast",
  "nextPageToken"}``), Issue comments, Users (``GET /user/search?query=``). Descriptions and comment
  bodies are Atlassian Document Format (ADF) documents; API tokens are sent as Basic auth.
* Jira Data Center REST API v2 (developer.atlassian.com/server/jira/platform/rest): the same resources
  under ``/rest/api/2``, ``GET``/``POST /search`` answering ``{"startAt", "maxResults", "total",
  "issues"}``, ``GET /user/search?username=``; bodies are plain strings; personal access tokens are sent
  as ``Authorization: Bearer``.

Both prefixes are served; the flavor decides the body format, the search resource and the user shape.
Errors carry Jira's body ``{"errorMessages": [...], "errors": {field: message}}`` with Jira's wording
(e.g. a 404 "Issue does not exist or you do not have permission to see it.").

JQL: only what mrm sends (:mod:`mrm.demo.standins.jql`); anything else is a 400 "Error in the JQL
Query: ...". This module authenticates, routes and injects faults; the resources and the state are in
:mod:`~mrm.demo.standins.jira_issues`, each flavor's JSON and field checks in
:mod:`~mrm.demo.standins.jira_shapes`.

Workflow: Jira's simplified one, any status to any other: To Do (category new), In Progress
(indeterminate), Done and Won't Do (done). :meth:`JiraStandIn.close` is what a person closing the issue
in Jira does.

``inject()`` makes the next matching requests fail (503, 429 with Retry-After, any HTTP status, or a
hang past the client's timeout; :mod:`mrm.demo.standins.faults`); with ``apply_first=True`` the request
is applied to the state before the fault, the ambiguous case where Jira acted but the client saw a
failure.

``slow(seconds, match)`` delays the matching requests before they are served (outside the state's
lock, so concurrent clients overlap): tests make two deliverers interleave with it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mrm.demo.standins.base import HOST, HttpStandIn, QuietHandler
from mrm.demo.standins.faults import HANG_SECONDS, Fault
from mrm.demo.standins.jira_issues import JiraResources, Request
from mrm.demo.standins.jira_shapes import (
    FLAVORS,
    NOT_FOUND,
    STATUSES,
    JiraError,
    JiraShapes,
    Response,
    encode,
)

__all__ = ["DEFAULT_LOGIN", "DEFAULT_TOKEN", "NOT_FOUND", "JiraStandIn"]

DEFAULT_LOGIN = "mrm@example.com"
DEFAULT_TOKEN = "token"


class JiraStandIn(HttpStandIn):
    """A local Jira Cloud (``flavor="cloud"``) or Data Center (``"datacenter"``), see the module docstring.

    ``users``: e-mail -> display name of the people user search finds (and issues can be assigned
    to). ``login``/``token``: the only credentials accepted (Basic ``login:token``; Data Center also
    ``Bearer token``). ``projects``: the project keys that exist.

    State, guarded by a lock: ``issues`` (key -> issue with summary, description, labels, priority,
    assignee (e-mail), status, statusCategory, comments, project, issuetype, created, updated) and
    ``requests_log`` ((method, path) of every request, faulted ones included).
    """

    def __init__(
        self,
        flavor: str = "cloud",
        users: dict[str, str] | None = None,
        *,
        login: str = DEFAULT_LOGIN,
        token: str = DEFAULT_TOKEN,
        projects: tuple[str, ...] = ("MRM",),
    ):
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {FLAVORS}, not {flavor!r}")
        super().__init__()
        self.flavor = flavor
        self.users = dict(users or {})
        self.projects = set(projects)
        self.requests_log: list[tuple[str, str]] = []
        self.shapes = JiraShapes(flavor, self.users, self.projects)
        basic = "Basic " + base64.b64encode(f"{login}:{token}".encode()).decode()
        self._accepted = {basic} | ({f"Bearer {token}"} if flavor == "datacenter" else set())
        self._lock = threading.RLock()
        self._delay: tuple[float, str | None] = (0.0, None)
        self.resources = JiraResources(self.shapes, login)
        self.issues = self.resources.issues
        routes = self.resources.routes()
        self._routes = [(m, re.compile(p.replace("{key}", "(?P<key>[^/]+)")), h) for m, p, h in routes]

    # --- life cycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started, else ""."""
        return self.shapes.base_url

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1 in a daemon thread; returns the base URL."""
        port = self.serve(_handler_class(self), "mrm-jira-standin")
        self.shapes.base_url = f"http://{HOST}:{port}"
        return self.base_url

    # --- for tests and the demo -------------------------------------------------------------------

    def inject(
        self,
        status: int | str = 503,
        times: int = 1,
        retry_after: float | None = None,
        match: str | None = None,
        apply_first: bool = False,
        hang_seconds: float = HANG_SECONDS,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``match`` (any request if None)
        get ``status`` (503, 429, any HTTP error status) instead of their answer, or "hang": no answer
        for ``hang_seconds`` (or until stop()), then the connection is closed. 429 always carries
        Retry-After (``retry_after`` or 1 s), other statuses only if ``retry_after`` is given.
        ``apply_first``: apply the request to the state first, then fail (for a hang: answer normally
        after the wait, when the client has given up)."""
        if status != "hang" and not (isinstance(status, int) and status >= 400):
            raise ValueError(f"inject() takes an HTTP error status or 'hang', not {status!r}")
        self.faults.add(Fault(status, times, retry_after, match, apply_first, hang_seconds))

    def slow(self, seconds: float, match: str | None = None) -> None:
        """Delay every request whose "METHOD /path" contains ``match`` (any if None) by ``seconds``
        before serving it; ``slow(0)`` ends it."""
        self._delay = (seconds, match)

    def close(self, key: str, status: str = "Done") -> None:
        """Set the issue to a done status, as a person closing it in Jira would."""
        if STATUSES.get(status, ("", ""))[1] != "done":
            raise ValueError(f"{status!r} is not a done status; use one of {list(STATUSES)}")
        with self._lock:
            self.resources.set_status(self.issues[key], status)

    def dump(self, path: str | Path) -> Path:
        """Write the issues as JSON (what a person would see in Jira) and return the path."""
        path = Path(path)
        with self._lock:
            path.write_text(json.dumps({"flavor": self.flavor, "issues": self.issues}, indent=2))
        return path

    # --- one request ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, authorization: str | None, raw: bytes) -> Response | None:
        """The answer to one HTTP request, faults included; None: close the connection unanswered (a
        hang, returned after its wait)."""
        path = urlsplit(target).path
        with self._lock:
            self.requests_log.append((method, path))
        seconds, match = self._delay
        if seconds > 0 and (match is None or match in f"{method} {path}"):
            time.sleep(seconds)
        fault = self.faults.take(f"{method} {path}")
        if fault is not None and not fault.apply_first:
            return self._fault_answer(fault, None)
        answer = self._serve(method, target, authorization, raw)
        return answer if fault is None else self._fault_answer(fault, answer)

    def _fault_answer(self, fault: Fault, served: Response | None) -> Response | None:
        """The injected answer; None means: close the connection without answering."""
        if fault.status == "hang":
            self.faults.hang(fault)
            return served
        status = int(fault.status)
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        return status, {"errorMessages": [HTTPStatus(status).phrase], "errors": {}}, headers

    def _serve(self, method: str, target: str, authorization: str | None, raw: bytes) -> Response:
        if authorization not in self._accepted:
            return self.shapes.not_authenticated()
        parts = urlsplit(target)
        m = re.fullmatch(r"/rest/api/(?P<api>[23])(?P<rest>/.*)", parts.path)
        if m is None:
            return JiraError(404, [f"No Jira REST resource at {parts.path}"]).response
        try:
            body = json.loads(raw) if raw else None
        except ValueError as exc:
            return JiraError(400, [f"Unexpected character in the JSON body: {exc}"]).response
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            with self._lock:
                return self._route(method, m["api"], m["rest"], query, body)
        except JiraError as exc:
            return exc.response
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return JiraError(400, [f"The request does not have the shape Jira expects ({exc!r})"]).response

    def _route(self, method: str, api: str, rest: str, query: dict[str, str], body: Any) -> Response:
        allowed = []
        for route_method, pattern, handler in self._routes:
            m = pattern.fullmatch(rest)
            if m and route_method == method:
                return handler(Request(method, api, m.groupdict(), query, body))
            if m:
                allowed.append(route_method)
        if allowed:
            raise JiraError(405, [f"{method} is not allowed here; use {', '.join(allowed)}"])
        raise JiraError(404, [f"No Jira REST resource at /rest/api/{api}{rest}"])


def _handler_class(standin: JiraStandIn) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def _any(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = standin.handle(self.command, self.path, self.headers.get("Authorization"), raw)
            if answer is None:  # a hang: the client has given up
                self.close_connection = True
                return
            self.send(*encode(*answer))

        do_GET = do_POST = do_PUT = do_DELETE = _any

    return Handler
