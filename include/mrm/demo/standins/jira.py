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

JQL: only what mrm sends, clauses joined by AND: ``project = X``, ``labels = "x"``, ``statusCategory
= Done`` / ``!= Done``, ``key in (A-1, A-2)``, and ``ORDER BY created [ASC|DESC]``; anything else is a
400 "Error in the JQL Query: ...".

Workflow: Jira's simplified one, any status to any other: To Do (category new), In Progress
(indeterminate), Done and Won't Do (done). :meth:`JiraStandIn.close` is what a person closing the issue
in Jira does.

``inject()`` makes the next matching requests fail (503, 429 with Retry-After, any HTTP status, or a
hang past the client's timeout); with ``apply_first=True`` the request is applied to the state before
the fault, the ambiguous case where Jira acted but the client saw a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
DEFAULT_LOGIN = "mrm@example.com"
DEFAULT_TOKEN = "token"
HANG_SECONDS = 30.0  # a "hang" fault holds the request this long, or until stop()
POLL_SECONDS = 0.05  # how often the server checks for stop(): stopping takes at most this long
FLAVORS = ("cloud", "datacenter")

# name -> (id, status category key)
STATUSES = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "Done": ("10001", "done"),
    "Won't Do": ("10002", "done"),
}
CATEGORIES = {  # key -> (id, name, colorName)
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done", "41": "Won't Do"}  # transition id -> status
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003"}
FIELDS = (
    "summary",
    "description",
    "labels",
    "priority",
    "assignee",
    "status",
    "project",
    "issuetype",
    "created",
    "updated",
    "comment",
)

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
STRING_REQUIRED = "Operation value must be a string"
CANNOT_SET = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."

Response = tuple[int, Any, dict[str, str]]  # status, JSON body (str: plain text, None: empty), headers


class JiraError(Exception):
    """An answer in Jira's error shape."""

    def __init__(self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None):
        super().__init__(status, messages, errors)
        self.response: Response = (status, {"errorMessages": messages or [], "errors": errors or {}}, {})


def _jql_error(detail: str) -> JiraError:
    return JiraError(400, [f"Error in the JQL Query: {detail}"])


@dataclass
class _Fault:
    status: int | str  # an HTTP status, or "hang"
    times: int
    retry_after: float | None
    match: str | None  # a substring of "METHOD /path"
    apply_first: bool
    hang_seconds: float

    def takes(self, request: str) -> bool:
        return self.times > 0 and (self.match is None or self.match in request)


@dataclass
class _Request:
    method: str
    api: str  # "2" or "3"
    params: dict[str, str]  # from the path, e.g. {"key": "MRM-1"}
    query: dict[str, str]
    body: Any


def _now() -> str:
    """Jira's timestamp format, e.g. 2026-09-10T08:15:00.000+0000."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _category_key(value: str) -> str:
    """A status category given by key (done) or name (Done, "In Progress")."""
    wanted = value.lower()
    for key, (_, name, _) in CATEGORIES.items():
        if wanted in (key, name.lower()):
            return key
    raise JiraError(400, [f"The value '{value}' does not exist for the field 'statusCategory'."])


_CLAUSE = re.compile(r'(?P<field>\w+)\s*(?P<op>!=|=|in\b)\s*(?P<value>"[^"]*"|\([^)]*\)|[^\s()"]+)', re.I)
_ORDER = re.compile(r"created(?:\s+(?P<direction>asc|desc))?", re.I)


def _predicate(clause: str, projects: set[str]) -> Callable[[dict[str, Any]], bool]:
    """One JQL clause of the supported subset as a test on a stored issue."""
    m = _CLAUSE.fullmatch(clause.strip())
    if not m:
        raise _jql_error(f"the stand-in does not support the clause '{clause.strip()}'.")
    name, op, value = m["field"].lower(), m["op"].lower(), _unquote(m["value"])
    if name == "project" and op == "=":
        if value not in projects:
            raise JiraError(400, [f"The value '{value}' does not exist for the field 'project'."])
        return lambda issue: issue["project"] == value
    if name == "labels" and op == "=":
        return lambda issue: value in issue["labels"]
    if name == "statuscategory" and op in ("=", "!="):
        category, equal = _category_key(value), op == "="
        return lambda issue: (issue["statusCategory"] == category) == equal
    if name == "key" and op == "in" and value.startswith("("):
        keys = {_unquote(k.strip()) for k in value[1:-1].split(",") if k.strip()}
        return lambda issue: issue["key"] in keys
    raise _jql_error(f"the stand-in does not support '{m['field']} {m['op']}'.")


def parse_jql(jql: str, projects: set[str]) -> tuple[list[Callable[[dict[str, Any]], bool]], bool]:
    """(the clauses as predicates, newest first?) for the subset in the module docstring."""
    where, *order = re.split(r"\s*\border\s+by\s+", jql.strip(), maxsplit=1, flags=re.I)
    descending = False
    if order:
        m = _ORDER.fullmatch(order[0].strip())
        if not m:
            raise _jql_error(f"the stand-in can only order by created, not '{order[0].strip()}'.")
        descending = (m["direction"] or "asc").lower() == "desc"
    clauses = [c for c in re.split(r"\s+and\s+", where, flags=re.I) if c.strip()]
    return [_predicate(c, projects) for c in clauses], descending


def _field_list(value: Any) -> list[str] | None:
    """The ``fields`` parameter (a list, or a comma-separated string) or None when absent."""
    if value is None:
        return None
    names = value if isinstance(value, list) else str(value).split(",")
    return [n.strip() for n in names if n.strip()]


class JiraStandIn:
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
        self.flavor = flavor
        self.users = dict(users or {})
        self.projects = set(projects)
        self.issues: dict[str, dict[str, Any]] = {}
        self.requests_log: list[tuple[str, str]] = []
        self.base_url = ""
        basic = "Basic " + base64.b64encode(f"{login}:{token}".encode()).decode()
        self._accepted = {basic} | ({f"Bearer {token}"} if flavor == "datacenter" else set())
        self._login = login
        self._faults: list[_Fault] = []
        self._next_id = 10000
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        routes = [
            ("POST", "/issue", self._create_issue),
            ("GET", "/issue/{key}", self._get_issue),
            ("PUT", "/issue/{key}", self._edit_issue),
            ("GET", "/issue/{key}/comment", self._get_comments),
            ("POST", "/issue/{key}/comment", self._add_comment),
            ("GET", "/issue/{key}/transitions", self._get_transitions),
            ("POST", "/issue/{key}/transitions", self._do_transition),
            ("GET", "/user/search", self._user_search),
        ]
        search = "/search/jql" if flavor == "cloud" else "/search"
        routes += [("GET", search, self._search), ("POST", search, self._search)]
        self._routes = [(m, re.compile(p.replace("{key}", "(?P<key>[^/]+)")), h) for m, p, h in routes]

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1 in a daemon thread; returns the base URL."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer((HOST, 0), _handler_class(self))
        self._server.daemon_threads = True
        serve = {"poll_interval": POLL_SECONDS}
        threading.Thread(
            target=self._server.serve_forever, kwargs=serve, name="mrm-jira-standin", daemon=True
        ).start()
        self.base_url = f"http://{HOST}:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()  # releases hanging requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> JiraStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after, match, apply_first, hang_seconds))

    def close(self, key: str, status: str = "Done") -> None:
        """Set the issue to a done status, as a person closing it in Jira would."""
        if STATUSES.get(status, ("", ""))[1] != "done":
            raise ValueError(f"{status!r} is not a done status; use one of {list(STATUSES)}")
        with self._lock:
            self._set_status(self.issues[key], status)

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
            fault = self._take_fault(f"{method} {path}")
        if fault is not None and not fault.apply_first:
            return self._fault_answer(fault, None)
        answer = self._serve(method, target, authorization, raw)
        return answer if fault is None else self._fault_answer(fault, answer)

    def _take_fault(self, request: str) -> _Fault | None:
        fault = next((f for f in self._faults if f.takes(request)), None)
        if fault is not None:
            fault.times -= 1
        return fault

    def _fault_answer(self, fault: _Fault, served: Response | None) -> Response | None:
        """The injected answer; None means: close the connection without answering."""
        if fault.status == "hang":
            self._stopping.wait(fault.hang_seconds)
            return served
        status = int(fault.status)
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        return status, {"errorMessages": [HTTPStatus(status).phrase], "errors": {}}, headers

    def _serve(self, method: str, target: str, authorization: str | None, raw: bytes) -> Response:
        if authorization not in self._accepted:
            headers = {"WWW-Authenticate": 'Basic realm="protected-by-api-token"'}
            if self.flavor == "datacenter":
                headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
            return 401, NOT_AUTHENTICATED, headers
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
                return handler(_Request(method, api, m.groupdict(), query, body))
            if m:
                allowed.append(route_method)
        if allowed:
            raise JiraError(405, [f"{method} is not allowed here; use {', '.join(allowed)}"])
        raise JiraError(404, [f"No Jira REST resource at /rest/api/{api}{rest}"])

    # --- issues -----------------------------------------------------------------------------------

    def _create_issue(self, req: _Request) -> Response:
        fields = (req.body or {}).get("fields") or {}
        errors = self._creation_errors(fields) | self._field_errors(
            {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        )
        if errors:
            raise JiraError(400, errors=errors)
        issue = self._new_issue(fields)
        return 201, {"id": issue["id"], "key": issue["key"], "self": self._issue_url(issue, req.api)}, {}

    def _creation_errors(self, fields: dict[str, Any]) -> dict[str, str]:
        """Jira's messages for the fields every new issue needs."""
        cloud = self.flavor == "cloud"
        errors = {}
        if (fields.get("project") or {}).get("key") not in self.projects:
            errors["project"] = "Specify a valid project ID or key" if cloud else "project is required"
        if (fields.get("issuetype") or {}).get("name") not in ISSUE_TYPES:
            errors["issuetype"] = "Specify an issue type" if cloud else "issue type is required"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        return errors

    def _field_errors(self, fields: dict[str, Any]) -> dict[str, str]:
        """Jira's messages for field values it would refuse (create and edit)."""
        errors = {}
        for name, value in fields.items():
            problem = self._field_problem(name, value)
            if problem:
                errors[name] = problem
        return errors

    def _field_problem(self, name: str, value: Any) -> str | None:
        if name == "summary":
            return "Summary must be less than 255 characters." if len(str(value)) > 255 else None
        if name == "description":
            return None if value is None else self._body_problem(value)
        if name == "labels":
            spaced = [label for label in value if re.search(r"\s", label)]
            return f"The label '{spaced[0]}' contains spaces which is invalid." if spaced else None
        if name == "priority":
            return None if (value or {}).get("name") in PRIORITIES else "The priority selected is invalid."
        if name == "assignee":
            known = value is None or self._assignee_email(value)
            return None if known else f"User '{next(iter(value.values()), '')}' does not exist."
        return CANNOT_SET.format(name)

    def _body_problem(self, body: Any) -> str | None:
        """Cloud wants an ADF document, Data Center a string."""
        if self.flavor == "cloud":
            is_adf = (
                isinstance(body, dict) and body.get("type") == "doc" and isinstance(body.get("content"), list)
            )
            return None if is_adf else ADF_REQUIRED
        return None if isinstance(body, str) else STRING_REQUIRED

    def _assignee_email(self, value: dict[str, Any]) -> str | None:
        """The e-mail of the user an assignee field names (Cloud: accountId, Data Center: name)."""
        for email in self.users:
            if self._user(email).get("accountId" if self.flavor == "cloud" else "name") in value.values():
                return email
        return None

    def _new_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        project = fields["project"]["key"]
        number = 1 + sum(1 for issue in self.issues.values() if issue["project"] == project)
        now = _now()
        issue = {
            "id": str(self._next_id),
            "key": f"{project}-{number}",
            "project": project,
            "issuetype": fields["issuetype"]["name"],
            "summary": fields["summary"],
            "description": fields.get("description"),
            "labels": list(fields.get("labels") or []),
            "priority": (fields.get("priority") or {}).get("name", "Medium"),
            "assignee": self._assignee_email(fields["assignee"]) if fields.get("assignee") else None,
            "status": "To Do",
            "statusCategory": "new",
            "comments": [],
            "created": now,
            "updated": now,
        }
        self.issues[issue["key"]] = issue
        return issue

    def _issue(self, key_or_id: str) -> dict[str, Any]:
        issue = self.issues.get(key_or_id) or next(
            (i for i in self.issues.values() if i["id"] == key_or_id), None
        )
        if issue is None:
            raise JiraError(404, [NOT_FOUND])
        return issue

    def _get_issue(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        return 200, self._issue_json(issue, _field_list(req.query.get("fields")), req.api), {}

    def _edit_issue(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        fields, update = (req.body or {}).get("fields") or {}, (req.body or {}).get("update") or {}
        added = [op["add"] for op in update.get("labels", []) if op.get("add")]
        errors = self._field_errors(fields | ({"labels": added} if added else {}))
        errors |= {name: CANNOT_SET.format(name) for name in update if name != "labels"}
        if errors:
            raise JiraError(400, errors=errors)
        for name, value in fields.items():
            self._set_field(issue, name, value)
        for op in update.get("labels", []):
            labels = [label for label in issue["labels"] if label != op.get("remove")]
            issue["labels"] = labels + ([op["add"]] if op.get("add") and op["add"] not in labels else [])
        issue["updated"] = _now()
        return 204, None, {}

    def _set_field(self, issue: dict[str, Any], name: str, value: Any) -> None:
        if name == "priority":
            issue["priority"] = value["name"]
        elif name == "assignee":
            issue["assignee"] = self._assignee_email(value) if value else None
        else:
            issue[name] = list(value) if name == "labels" else value

    # --- comments ---------------------------------------------------------------------------------

    def _get_comments(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        comments = issue["comments"][::-1] if req.query.get("orderBy") == "-created" else issue["comments"]
        start, size = int(req.query.get("startAt", 0)), int(req.query.get("maxResults", 5000))
        page = [self._comment_json(issue, c, req.api) for c in comments[start : start + size]]
        return 200, {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}, {}

    def _add_comment(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        body = (req.body or {}).get("body")
        if not body:
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        problem = self._body_problem(body)
        if problem:
            raise JiraError(400, errors={"comment": problem})
        self._next_id += 1
        comment = {"id": str(self._next_id), "body": body, "author": self._login, "created": _now()}
        issue["comments"].append(comment)
        issue["updated"] = comment["created"]
        return 201, self._comment_json(issue, comment, req.api), {}

    def _comment_json(self, issue: dict[str, Any], comment: dict[str, Any], api: str) -> dict[str, Any]:
        return {
            "self": f"{self._issue_url(issue, api)}/comment/{comment['id']}",
            "id": comment["id"],
            "author": self._user_json(comment["author"], api),
            "body": comment["body"],
            "created": comment["created"],
            "updated": comment["created"],
        }

    # --- transitions ------------------------------------------------------------------------------

    def _get_transitions(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        transitions = [
            {"id": tid, "name": status, "to": self._status_json(status), "hasScreen": False, "isGlobal": True}
            for tid, status in TRANSITIONS.items()
            if status != issue["status"]
        ]
        return 200, {"expand": "transitions", "transitions": transitions}, {}

    def _do_transition(self, req: _Request) -> Response:
        issue = self._issue(req.params["key"])
        tid = str(((req.body or {}).get("transition") or {}).get("id"))
        if TRANSITIONS.get(tid, issue["status"]) == issue["status"]:
            raise JiraError(400, [f"Transition id '{tid}' is not valid for this issue."])
        self._set_status(issue, TRANSITIONS[tid])
        return 204, None, {}

    @staticmethod
    def _set_status(issue: dict[str, Any], status: str) -> None:
        issue["status"], issue["statusCategory"] = status, STATUSES[status][1]
        issue["updated"] = _now()

    # --- search -----------------------------------------------------------------------------------

    def _search(self, req: _Request) -> Response:
        params = (req.body or {}) if req.method == "POST" else req.query
        predicates, descending = parse_jql(str(params.get("jql") or ""), self.projects)
        if self.flavor == "cloud" and not predicates:
            raise JiraError(
                400, ["Unbounded JQL queries are not allowed here. Please add a search restriction."]
            )
        found = sorted(
            (i for i in self.issues.values() if all(p(i) for p in predicates)),
            key=lambda i: (i["created"], int(i["id"])),
            reverse=descending,
        )
        size = int(params.get("maxResults", 50))
        fields = _field_list(params.get("fields"))
        if self.flavor == "cloud":  # enhanced search: pages by token, only the id unless fields are asked for
            start = int(params.get("nextPageToken") or 0)
            page = [self._issue_json(i, fields or [], req.api) for i in found[start : start + size]]
            body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
            if not body["isLast"]:
                body["nextPageToken"] = str(start + size)
            return 200, body, {}
        start = int(params.get("startAt", 0))
        page = [self._issue_json(i, fields, req.api) for i in found[start : start + size]]
        body = {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found)}
        return 200, body | {"issues": page}, {}

    # --- users ------------------------------------------------------------------------------------

    def _user_search(self, req: _Request) -> Response:
        """Cloud: ``query`` matches e-mail or display name; Data Center: ``username`` matches user name,
        e-mail or display name (both by prefix, case-insensitive)."""
        parameter = "query" if self.flavor == "cloud" else "username"
        wanted = (req.query.get(parameter) or "").lower()
        if not wanted:
            raise JiraError(400, [f"The {parameter} query parameter was not provided"])
        found = [
            email
            for email in self.users
            if any(str(v).lower().startswith(wanted) for v in self._user(email).values())
        ]
        return 200, [self._user_json(email, req.api) for email in found], {}

    def _user(self, email: str) -> dict[str, str]:
        """Cloud identifies a user by an opaque accountId, Data Center by a user name."""
        return {
            "accountId": "5b10" + hashlib.sha1(email.encode()).hexdigest()[:20],
            "name": email.split("@")[0],
            "emailAddress": email,
            "displayName": self.users.get(email, email),
        }

    def _user_json(self, email: str, api: str) -> dict[str, Any]:
        user = self._user(email)
        if self.flavor == "cloud":
            ident = {"accountId": user["accountId"], "accountType": "atlassian"}
            url = f"{self.base_url}/rest/api/{api}/user?accountId={user['accountId']}"
        else:
            ident = {"key": user["name"], "name": user["name"]}
            url = f"{self.base_url}/rest/api/{api}/user?username={user['name']}"
        return {
            "self": url,
            **ident,
            "emailAddress": email,
            "displayName": user["displayName"],
            "active": True,
        }

    # --- JSON shapes ------------------------------------------------------------------------------

    def _issue_url(self, issue: dict[str, Any], api: str) -> str:
        return f"{self.base_url}/rest/api/{api}/issue/{issue['id']}"

    def _status_json(self, status: str) -> dict[str, Any]:
        status_id, category = STATUSES[status]
        cat_id, cat_name, color = CATEGORIES[category]
        return {
            "self": f"{self.base_url}/rest/api/2/status/{status_id}",
            "name": status,
            "id": status_id,
            "statusCategory": {"id": cat_id, "key": category, "colorName": color, "name": cat_name},
        }

    def _issue_json(self, issue: dict[str, Any], fields: list[str] | None, api: str) -> dict[str, Any]:
        """``fields``: None or ``*all``/``*navigable`` for every field, else only those named."""
        wanted = FIELDS if fields is None or {"*all", "*navigable"} & set(fields) else fields
        comments = [self._comment_json(issue, c, api) for c in issue["comments"]]
        values = {
            "summary": issue["summary"],
            "description": issue["description"],
            "labels": issue["labels"],
            "priority": {"name": issue["priority"], "id": PRIORITIES[issue["priority"]]},
            "assignee": self._user_json(issue["assignee"], api) if issue["assignee"] else None,
            "status": self._status_json(issue["status"]),
            "project": {"key": issue["project"], "name": issue["project"]},
            "issuetype": {"name": issue["issuetype"], "id": ISSUE_TYPES[issue["issuetype"]]},
            "created": issue["created"],
            "updated": issue["updated"],
            "comment": {
                "comments": comments,
                "startAt": 0,
                "maxResults": len(comments),
                "total": len(comments),
            },
        }
        chosen = {name: values[name] for name in wanted if name in values}
        return {"id": issue["id"], "key": issue["key"], "self": self._issue_url(issue, api), "fields": chosen}


def _handler_class(standin: JiraStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = standin.handle(self.command, self.path, self.headers.get("Authorization"), raw)
            if answer is None:  # a hang: the client has given up
                self.close_connection = True
                return
            self._answer(*answer)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
            if body is None:
                data = b""
            elif isinstance(body, str):
                data, headers = body.encode(), {"Content-Type": "text/plain; charset=utf-8", **headers}
            else:
                data, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout) before the answer
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # one stderr line per request otherwise
            pass

    return Handler
