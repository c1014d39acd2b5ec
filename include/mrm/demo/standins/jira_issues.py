"""Jira's state in the stand-in and the REST resources on it: issues (create, read, edit), comments,
transitions, search (JQL) and user search, in either flavor. Called by :class:`mrm.demo.standins.jira.
JiraStandIn` under its lock, after authentication and routing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mrm.demo.standins.jira_shapes import (
    CANNOT_SET,
    NOT_FOUND,
    STATUSES,
    TRANSITIONS,
    JiraError,
    JiraShapes,
    Response,
    field_list,
    timestamp,
)
from mrm.demo.standins.jql import parse_jql


@dataclass
class Request:
    method: str
    api: str  # "2" or "3"
    params: dict[str, str]  # from the path, e.g. {"key": "MRM-1"}
    query: dict[str, str]
    body: Any


class JiraResources:
    """``issues``: key -> issue with summary, description, labels, priority, assignee (e-mail), status,
    statusCategory, comments, project, issuetype, created, updated. ``login``: the author of comments."""

    def __init__(self, shapes: JiraShapes, login: str):
        self.shapes = shapes
        self.issues: dict[str, dict[str, Any]] = {}
        self._login = login
        self._next_id = 10000

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path under /rest/api/N, handler); ``{key}`` is an issue key or id."""
        search = "/search/jql" if self.shapes.flavor == "cloud" else "/search"
        return [
            ("POST", "/issue", self.create_issue),
            ("GET", "/issue/{key}", self.get_issue),
            ("PUT", "/issue/{key}", self.edit_issue),
            ("GET", "/issue/{key}/comment", self.get_comments),
            ("POST", "/issue/{key}/comment", self.add_comment),
            ("GET", "/issue/{key}/transitions", self.get_transitions),
            ("POST", "/issue/{key}/transitions", self.do_transition),
            ("GET", "/user/search", self.user_search),
            ("GET", search, self.search),
            ("POST", search, self.search),
        ]

    # --- issues -----------------------------------------------------------------------------------

    def create_issue(self, req: Request) -> Response:
        fields = (req.body or {}).get("fields") or {}
        errors = self.shapes.creation_errors(fields) | self.shapes.field_errors(
            {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        )
        if errors:
            raise JiraError(400, errors=errors)
        issue = self._new_issue(fields)
        return (
            201,
            {"id": issue["id"], "key": issue["key"], "self": self.shapes.issue_url(issue, req.api)},
            {},
        )

    def _new_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        project = fields["project"]["key"]
        number = 1 + sum(1 for issue in self.issues.values() if issue["project"] == project)
        created = timestamp()
        issue = {
            "id": str(self._next_id),
            "key": f"{project}-{number}",
            "project": project,
            "issuetype": fields["issuetype"]["name"],
            "summary": fields["summary"],
            "description": fields.get("description"),
            "labels": list(fields.get("labels") or []),
            "priority": (fields.get("priority") or {}).get("name", "Medium"),
            "assignee": self.shapes.assignee_email(fields["assignee"]) if fields.get("assignee") else None,
            "status": "To Do",
            "statusCategory": "new",
            "comments": [],
            "created": created,
            "updated": created,
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

    def get_issue(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        return 200, self.shapes.issue_json(issue, field_list(req.query.get("fields")), req.api), {}

    def edit_issue(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        fields, update = (req.body or {}).get("fields") or {}, (req.body or {}).get("update") or {}
        added = [op["add"] for op in update.get("labels", []) if op.get("add")]
        errors = self.shapes.field_errors(fields | ({"labels": added} if added else {}))
        errors |= {name: CANNOT_SET.format(name) for name in update if name != "labels"}
        if errors:
            raise JiraError(400, errors=errors)
        for name, value in fields.items():
            self._set_field(issue, name, value)
        for op in update.get("labels", []):
            labels = [label for label in issue["labels"] if label != op.get("remove")]
            issue["labels"] = labels + ([op["add"]] if op.get("add") and op["add"] not in labels else [])
        issue["updated"] = timestamp()
        return 204, None, {}

    def _set_field(self, issue: dict[str, Any], name: str, value: Any) -> None:
        if name == "priority":
            issue["priority"] = value["name"]
        elif name == "assignee":
            issue["assignee"] = self.shapes.assignee_email(value) if value else None
        else:
            issue[name] = list(value) if name == "labels" else value

    # --- comments ---------------------------------------------------------------------------------

    def get_comments(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        comments = issue["comments"][::-1] if req.query.get("orderBy") == "-created" else issue["comments"]
        start, size = int(req.query.get("startAt", 0)), int(req.query.get("maxResults", 5000))
        page = [self.shapes.comment_json(issue, c, req.api) for c in comments[start : start + size]]
        return 200, {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}, {}

    def add_comment(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        body = (req.body or {}).get("body")
        if not body:
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        problem = self.shapes.body_problem(body)
        if problem:
            raise JiraError(400, errors={"comment": problem})
        self._next_id += 1
        comment = {"id": str(self._next_id), "body": body, "author": self._login, "created": timestamp()}
        issue["comments"].append(comment)
        issue["updated"] = comment["created"]
        return 201, self.shapes.comment_json(issue, comment, req.api), {}

    # --- transitions ------------------------------------------------------------------------------

    def get_transitions(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        transitions = [
            {
                "id": tid,
                "name": status,
                "to": self.shapes.status_json(status),
                "hasScreen": False,
                "isGlobal": True,
            }
            for tid, status in TRANSITIONS.items()
            if status != issue["status"]
        ]
        return 200, {"expand": "transitions", "transitions": transitions}, {}

    def do_transition(self, req: Request) -> Response:
        issue = self._issue(req.params["key"])
        tid = str(((req.body or {}).get("transition") or {}).get("id"))
        if TRANSITIONS.get(tid, issue["status"]) == issue["status"]:
            raise JiraError(400, [f"Transition id '{tid}' is not valid for this issue."])
        self.set_status(issue, TRANSITIONS[tid])
        return 204, None, {}

    @staticmethod
    def set_status(issue: dict[str, Any], status: str) -> None:
        issue["status"], issue["statusCategory"] = status, STATUSES[status][1]
        issue["updated"] = timestamp()

    # --- search -----------------------------------------------------------------------------------

    def search(self, req: Request) -> Response:
        params = (req.body or {}) if req.method == "POST" else req.query
        predicates, descending = parse_jql(str(params.get("jql") or ""), self.shapes.projects)
        if self.shapes.flavor == "cloud" and not predicates:
            raise JiraError(
                400, ["Unbounded JQL queries are not allowed here. Please add a search restriction."]
            )
        found = sorted(
            (i for i in self.issues.values() if all(p(i) for p in predicates)),
            key=lambda i: (i["created"], int(i["id"])),
            reverse=descending,
        )
        size = int(params.get("maxResults", 50))
        fields = field_list(params.get("fields"))
        if (
            self.shapes.flavor == "cloud"
        ):  # enhanced search: pages by token, only the id unless fields are asked for
            start = int(params.get("nextPageToken") or 0)
            page = [self.shapes.issue_json(i, fields or [], req.api) for i in found[start : start + size]]
            body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
            if not body["isLast"]:
                body["nextPageToken"] = str(start + size)
            return 200, body, {}
        start = int(params.get("startAt", 0))
        page = [self.shapes.issue_json(i, fields, req.api) for i in found[start : start + size]]
        body = {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found)}
        return 200, body | {"issues": page}, {}

    # --- users ------------------------------------------------------------------------------------

    def user_search(self, req: Request) -> Response:
        """Cloud: ``query`` matches e-mail or display name; Data Center: ``username`` matches user name,
        e-mail or display name (both by prefix, case-insensitive)."""
        parameter = "query" if self.shapes.flavor == "cloud" else "username"
        wanted = (req.query.get(parameter) or "").lower()
        if not wanted:
            raise JiraError(400, [f"The {parameter} query parameter was not provided"])
        return 200, [self.shapes.user_json(email, req.api) for email in self.shapes.find(wanted)], {}
