"""What the Jira stand-in's answers look like: Jira's statuses, priorities and error shape, the JSON of
users, issues, comments and statuses in each flavor (Cloud: ADF bodies and accountIds; Data Center:
plain strings and user names), and the field values Jira refuses, with Jira's wording."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

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


def timestamp() -> str:
    """Jira's timestamp format, e.g. 2026-09-10T08:15:00.000+0000."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def encode(status: int, body: Any, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """An answer as bytes on the wire: JSON, plain text (a str body) or nothing (None)."""
    if body is None:
        return status, b"", headers
    if isinstance(body, str):
        return status, body.encode(), {"Content-Type": "text/plain; charset=utf-8", **headers}
    return status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}


def field_list(value: Any) -> list[str] | None:
    """The ``fields`` parameter (a list, or a comma-separated string) or None when absent."""
    if value is None:
        return None
    names = value if isinstance(value, list) else str(value).split(",")
    return [n.strip() for n in names if n.strip()]


class JiraShapes:
    """The JSON and the field checks of one flavor. ``users``: e-mail -> display name (shared with the
    stand-in, which may add people); ``base_url``: set when the server starts (it is in every "self")."""

    def __init__(self, flavor: str, users: dict[str, str], projects: set[str]):
        self.flavor = flavor
        self.users = users
        self.projects = projects
        self.base_url = ""

    def not_authenticated(self) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="protected-by-api-token"'}
        if self.flavor == "datacenter":
            headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return 401, NOT_AUTHENTICATED, headers

    def find(self, wanted: str) -> list[str]:
        """The e-mails of the users whose name, e-mail or display name starts with ``wanted`` (lower case)."""
        return [
            email
            for email in self.users
            if any(str(v).lower().startswith(wanted) for v in self.user(email).values())
        ]

    # --- field values Jira refuses ----------------------------------------------------------------

    def creation_errors(self, fields: dict[str, Any]) -> dict[str, str]:
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

    def field_errors(self, fields: dict[str, Any]) -> dict[str, str]:
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
            return None if value is None else self.body_problem(value)
        if name == "labels":
            spaced = [label for label in value if re.search(r"\s", label)]
            return f"The label '{spaced[0]}' contains spaces which is invalid." if spaced else None
        if name == "priority":
            return None if (value or {}).get("name") in PRIORITIES else "The priority selected is invalid."
        if name == "assignee":
            known = value is None or self.assignee_email(value)
            return None if known else f"User '{next(iter(value.values()), '')}' does not exist."
        return CANNOT_SET.format(name)

    def body_problem(self, body: Any) -> str | None:
        """Cloud wants an ADF document, Data Center a string."""
        if self.flavor == "cloud":
            is_adf = (
                isinstance(body, dict) and body.get("type") == "doc" and isinstance(body.get("content"), list)
            )
            return None if is_adf else ADF_REQUIRED
        return None if isinstance(body, str) else STRING_REQUIRED

    def assignee_email(self, value: dict[str, Any]) -> str | None:
        """The e-mail of the user an assignee field names (Cloud: accountId, Data Center: name)."""
        for email in self.users:
            if self.user(email).get("accountId" if self.flavor == "cloud" else "name") in value.values():
                return email
        return None

    # --- JSON -------------------------------------------------------------------------------------

    def user(self, email: str) -> dict[str, str]:
        """Cloud identifies a user by an opaque accountId, Data Center by a user name."""
        return {
            "accountId": "5b10" + hashlib.sha1(email.encode()).hexdigest()[:20],
            "name": email.split("@")[0],
            "emailAddress": email,
            "displayName": self.users.get(email, email),
        }

    def user_json(self, email: str, api: str) -> dict[str, Any]:
        user = self.user(email)
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

    def issue_url(self, issue: dict[str, Any], api: str) -> str:
        return f"{self.base_url}/rest/api/{api}/issue/{issue['id']}"

    def comment_json(self, issue: dict[str, Any], comment: dict[str, Any], api: str) -> dict[str, Any]:
        return {
            "self": f"{self.issue_url(issue, api)}/comment/{comment['id']}",
            "id": comment["id"],
            "author": self.user_json(comment["author"], api),
            "body": comment["body"],
            "created": comment["created"],
            "updated": comment["created"],
        }

    def status_json(self, status: str) -> dict[str, Any]:
        status_id, category = STATUSES[status]
        cat_id, cat_name, color = CATEGORIES[category]
        return {
            "self": f"{self.base_url}/rest/api/2/status/{status_id}",
            "name": status,
            "id": status_id,
            "statusCategory": {"id": cat_id, "key": category, "colorName": color, "name": cat_name},
        }

    def issue_json(self, issue: dict[str, Any], fields: list[str] | None, api: str) -> dict[str, Any]:
        """``fields``: None or ``*all``/``*navigable`` for every field, else only those named."""
        wanted = FIELDS if fields is None or {"*all", "*navigable"} & set(fields) else fields
        comments = [self.comment_json(issue, c, api) for c in issue["comments"]]
        values = {
            "summary": issue["summary"],
            "description": issue["description"],
            "labels": issue["labels"],
            "priority": {"name": issue["priority"], "id": PRIORITIES[issue["priority"]]},
            "assignee": self.user_json(issue["assignee"], api) if issue["assignee"] else None,
            "status": self.status_json(issue["status"]),
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
        return {"id": issue["id"], "key": issue["key"], "self": self.issue_url(issue, api), "fields": chosen}
