"""Jira as a ticket sink: mrm's tickets mirrored to Jira Cloud (REST API v3) or Data Center (REST API v2).

One Jira issue per open model+control, found again by its labels: ``mrm``, ``mrm-model-<model_id>`` and
``mrm-control-<first 12 hex of sha1(control)>`` (labels cannot hold the spaces and brackets of a
control such as ``drift.psi[amount]{country=NL}``; the control itself is in the summary and
description). Every ticket event first searches the open issue with JQL::

    project = "MRM" AND labels = "mrm-model-x" AND labels = "mrm-control-h"
    AND statusCategory != Done ORDER BY created DESC

then comments on it, or creates it when none is open (so nothing is lost when the issue was closed in
Jira or the mirror was added later). An issue mrm creates also carries ``mrm-key-<first 16 hex of
sha1(item key)>``, the outbox item that created it; before creating, the sink searches that label (any
status), so an item whose create reached Jira is never created twice, whichever deliverer retries it
and however many attempts were recorded (a deliverer killed after the create recorded none).
``ticket.escalated`` also raises the priority, ``ticket.closed`` comments and moves the issue to done.

Retries are idempotent. Searching before creating finds an issue whose create response was lost. Every
description and comment ends with the line ``mrm-event: <item key>``; before commenting, the sink looks
for that line in the description and the latest comments (also on a first recorded attempt: another
deliverer may have posted it) and does not post twice. (Jira Cloud's search index can lag a write by
a moment; the outbox's backoff between attempts covers that.)

Shapes follow Atlassian's references: Jira Cloud platform REST API v3 (bodies in Atlassian Document
Format, enhanced search ``POST /rest/api/3/search/jql``, users by ``accountId``) and Jira Data Center
REST API v2 (plain-text bodies, ``GET /rest/api/2/search``, users by ``name``). Credentials come from
the Airflow connection only: Cloud login = account e-mail and password = API token (Basic auth); Data
Center password = personal access token (Bearer).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import requests

from mrm.airflow.connections import get_connection
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import JiraChannel
from mrm.notify.base import (
    TICKET_CLOSED,
    TICKET_ESCALATED,
    TICKET_GREEN,
    TICKET_OCCURRENCE,
    TICKET_OPENED,
    TICKET_REVIEWED,
    Delivery,
)
from mrm.notify.http import DEFAULT_TIMEOUT, call, redact_url

log = logging.getLogger("mrm.notify")

FLAVORS = ("cloud", "datacenter")
MARKER = "mrm-event: "  # + the item key: the last line of every description and comment mrm writes
ESCALATED_LABEL = "mrm-escalated"
SUMMARY_MAX = 255  # Jira's limit on the summary field
COMMENTS_CHECKED = 100  # newest comments searched for the marker of a retried event
WEB_URL = re.compile(r"https?://[^\s<>\"]+")


def key_label(item_key: str) -> str:
    """The label naming the outbox item that created an issue."""
    return f"mrm-key-{hashlib.sha1(item_key.encode()).hexdigest()[:16]}"


def labels_for(model_id: str, control: str) -> list[str]:
    """The labels that identify the issue of one model and control (Jira labels cannot hold spaces)."""
    model = re.sub(r"\s+", "_", model_id.strip())
    return ["mrm", f"mrm-model-{model}", f"mrm-control-{hashlib.sha1(control.encode()).hexdigest()[:12]}"]


def adf(text: str) -> dict[str, Any]:
    """``text`` as an Atlassian Document Format document: one paragraph per non-blank line, its http(s)
    URLs as links (the Model Risk page's evidence and model page, the Airflow run; a ``file://`` or
    ``s3://`` storage URI stays text: no browser opens it)."""
    lines = [line for line in text.splitlines() if line.strip()]
    content = [{"type": "paragraph", "content": _inline(line)} for line in lines]
    return {"type": "doc", "version": 1, "content": content}


def _inline(line: str) -> list[dict[str, Any]]:
    """The text nodes of one line, each http(s) URL a node with a link mark."""
    nodes: list[dict[str, Any]] = []
    at = 0
    for match in WEB_URL.finditer(line):
        if match.start() > at:
            nodes.append({"type": "text", "text": line[at : match.start()]})
        url = match.group()
        nodes.append({"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]})
        at = match.end()
    if at < len(line):
        nodes.append({"type": "text", "text": line[at:]})
    return nodes


def plain_text(body: Any) -> str:
    """The text of a body as Jira returns it: a string (Data Center) or an ADF document (Cloud), one
    line per paragraph."""
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return ""
    if body.get("type") == "text":
        return str(body.get("text", ""))
    separator = "\n" if body.get("type") == "doc" else ""
    return separator.join(plain_text(child) for child in body.get("content") or [])


def _heading(item: Delivery) -> str:
    """The first line of the comment for one ticket event ("" when the event's text starts with its own:
    occurrences and returns to green)."""
    p = item.payload
    day, severity = p.get("logical_date"), p.get("severity")
    if item.kind == TICKET_OPENED:
        return f"mrm opened ticket {p.get('ticket_key')} again for this control ({severity} on {day})."
    if item.kind in (TICKET_OCCURRENCE, TICKET_GREEN, TICKET_REVIEWED):
        return ""
    if item.kind == TICKET_ESCALATED:
        return f"Escalated to priority {p.get('priority')}: RED and unresolved for too long."
    return f"Closed in mrm by {p.get('closed_by')}: {p.get('reason')}"


def _flavor_in_extra(flavor: Any, cfg: JiraChannel, where: str) -> None:
    """A ``flavor`` in the connection's extra is not read there: the policy's is. Refused when it
    differs (the sink would speak the other API), a warning when it agrees."""
    if flavor is None:
        return
    line = (
        f"{where} has flavor '{flavor}' in its extra, which mrm does not read: the Jira flavor is "
        f"notifications.channels.jira.flavor in _policy.yaml (now '{cfg.flavor}')"
    )
    if str(flavor) != cfg.flavor:
        raise ConfigError(f"{line}; set it there and remove it from the connection")
    log.warning("%s; remove it from the connection", line)


class JiraSink:
    """Ticket sink "jira" (see the module docstring). ``connection`` names the Airflow connection in
    error messages."""

    name = "jira"

    def __init__(
        self,
        base_url: str,
        flavor: str,
        project: str,
        issue_type: str = "Task",
        login: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        connection: str | None = None,
    ):
        if flavor not in FLAVORS:
            raise ConfigError(f"Jira flavor must be one of {', '.join(FLAVORS)}, not '{flavor}'")
        self.base_url = base_url.rstrip("/")
        self.flavor = flavor
        self.project = project
        self.issue_type = issue_type
        self.timeout = timeout
        self._api = f"{self.base_url}/rest/api/{'3' if flavor == 'cloud' else '2'}"
        self._who = f"Jira (connection {connection})" if connection else "Jira"
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        if flavor == "cloud":
            self._session.auth = (login or "", token or "")
        else:
            self._session.headers["Authorization"] = f"Bearer {token or ''}"

    @classmethod
    def from_config(cls, cfg: JiraChannel) -> JiraSink:
        """The sink for the ``notifications.channels.jira`` settings and their Airflow connection."""
        conn = get_connection(cfg.connection, f"Jira tickets in project {cfg.project}")
        where = f"Airflow connection '{cfg.connection}'"
        if not conn.host:
            raise ConfigError(
                f"{where} has no host: set it to the Jira base URL, e.g. https://example.atlassian.net"
            )
        _flavor_in_extra(conn.extra.get("flavor"), cfg, where)
        if cfg.flavor == "cloud" and not (conn.login and conn.password):
            raise ConfigError(
                f"{where} needs the Jira account's e-mail as login and an API token as password"
            )
        if cfg.flavor == "datacenter" and not conn.password:
            raise ConfigError(f"{where} needs a Jira personal access token as password")
        return cls(
            conn.url(),
            cfg.flavor,
            cfg.project,
            cfg.issue_type,
            conn.login,
            conn.password,
            cfg.timeout_seconds,
            connection=cfg.connection,
        )

    # --- the Channel protocol ---------------------------------------------------------------------

    def deliver(self, item: Delivery) -> dict[str, Any]:
        """Apply one ticket event to Jira; the receipt is {"external_key", "url", "action"} with action
        created | commented | already_done | closed | no_open_issue."""
        if item.kind in (TICKET_OPENED, TICKET_OCCURRENCE, TICKET_GREEN, TICKET_REVIEWED):
            return self._comment_or_create(item)
        if item.kind == TICKET_ESCALATED:
            return self._escalate(item)
        if item.kind == TICKET_CLOSED:
            return self._close(item)
        raise DeliveryError(
            f"Jira takes ticket events only, not '{item.kind}' (item {item.key})", transient=False
        )

    def status(self, external_key: str) -> dict[str, Any]:
        """The issue's status as Jira has it, e.g. after a person closed it there."""
        resp = self._call(
            "GET", f"/issue/{external_key}", f"read the status of {external_key}", params={"fields": "status"}
        )
        status = self._json(resp, f"read the status of {external_key}")["fields"]["status"]
        category = status["statusCategory"]["key"]
        return {
            "key": external_key,
            "status": status["name"],
            "category": category,
            "done": category == "done",
        }

    # --- ticket events ----------------------------------------------------------------------------

    def _comment_or_create(self, item: Delivery) -> dict[str, Any]:
        issue = self._find_open(item)
        if issue is None:
            return self._create_once(item)
        return self._receipt(issue["key"], "commented" if self._comment(issue, item) else "already_done")

    def _escalate(self, item: Delivery) -> dict[str, Any]:
        issue = self._find_open(item)
        if issue is None:
            return self._create_once(item)
        key = issue["key"]
        update = {"labels": [{"add": ESCALATED_LABEL}]}
        self._call(
            "PUT",
            f"/issue/{key}",
            f"raise the priority of {key}",
            json={"fields": self._priority(item), "update": update},
        )
        return self._receipt(key, "commented" if self._comment(issue, item) else "already_done")

    def _close(self, item: Delivery) -> dict[str, Any]:
        issue = self._find_open(item)
        if issue is None:
            return {"external_key": None, "url": None, "action": "no_open_issue"}
        self._comment(issue, item)
        self._transition_to_done(issue["key"])
        return self._receipt(issue["key"], "closed")

    # --- Jira requests ----------------------------------------------------------------------------

    def _find_open(self, item: Delivery) -> dict[str, Any] | None:
        """The newest open issue of the item's model and control (with its description), or None."""
        p = item.payload
        _, model, control = labels_for(p["model_id"], p["control"])
        jql = (
            f'project = "{self.project}" AND labels = "{model}" AND labels = "{control}" '
            "AND statusCategory != Done ORDER BY created DESC"
        )
        return self._search(jql, f"search the open issue of {p['model_id']} {p['control']}")

    def _create_once(self, item: Delivery) -> dict[str, Any]:
        """Create the item's issue unless an issue carries its key label already (open or not)."""
        jql = f'project = "{self.project}" AND labels = "{key_label(item.key)}" ORDER BY created DESC'
        made = self._search(jql, f"search the issue created by {item.key}")
        return self._create(item) if made is None else self._receipt(made["key"], "already_done")

    def _search(self, jql: str, what: str) -> dict[str, Any] | None:
        """The first issue the JQL finds (with summary, status and description), or None."""
        fields = ["summary", "status", "description"]
        if self.flavor == "cloud":
            resp = self._call(
                "POST", "/search/jql", what, json={"jql": jql, "fields": fields, "maxResults": 1}
            )
        else:
            params = {"jql": jql, "fields": ",".join(fields), "maxResults": 1}
            resp = self._call("GET", "/search", what, params=params)
        issues = self._json(resp, what).get("issues") or []
        return issues[0] if issues else None

    def _create(self, item: Delivery) -> dict[str, Any]:
        p = item.payload
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": " ".join(str(p.get("title") or p["control"]).split())[:SUMMARY_MAX],
            "description": self._body(f"{p.get('text') or p.get('title') or ''}\n{MARKER}{item.key}"),
            "labels": [*labels_for(p["model_id"], p["control"]), key_label(item.key)],
            **self._priority(item),
            **self._assignee(p.get("owner")),
        }
        what = f"create issue in project {self.project}"
        key = self._json(self._call("POST", "/issue", what, json={"fields": fields}), what)["key"]
        return self._receipt(key, "created")

    def _comment(self, issue: dict[str, Any], item: Delivery) -> bool:
        """Post the event's comment; False when it is there already (an earlier attempt, or another
        deliverer, got through)."""
        key, marker = issue["key"], f"{MARKER}{item.key}"
        if self._has_marker(issue, marker):
            return False
        text = "\n".join(part for part in (_heading(item), item.payload.get("text") or "", marker) if part)
        self._call("POST", f"/issue/{key}/comment", f"comment on {key}", json={"body": self._body(text)})
        return True

    def _has_marker(self, issue: dict[str, Any], marker: str) -> bool:
        """Whether the issue's description or one of its newest comments ends an event's text with
        ``marker`` (an earlier attempt got through)."""
        if marker in plain_text(issue["fields"].get("description")).splitlines():
            return True
        key = issue["key"]
        params = {"orderBy": "-created", "maxResults": COMMENTS_CHECKED}
        resp = self._call("GET", f"/issue/{key}/comment", f"read the comments of {key}", params=params)
        comments = self._json(resp, f"read the comments of {key}").get("comments") or []
        return any(marker in plain_text(c.get("body")).splitlines() for c in comments)

    def _transition_to_done(self, key: str) -> None:
        what = f"close {key}"
        resp = self._call("GET", f"/issue/{key}/transitions", what)
        transitions = self._json(resp, what).get("transitions") or []
        done = next((t for t in transitions if t["to"]["statusCategory"]["key"] == "done"), None)
        if done is None:
            raise DeliveryError(
                f"{self._who} {what}: its workflow offers no transition to a done status from here; "
                "close it in Jira, or add such a transition to the project's workflow",
                transient=False,
            )
        self._call("POST", f"/issue/{key}/transitions", what, json={"transition": {"id": done["id"]}})

    def _assignee(self, owner: str | None) -> dict[str, Any]:
        """{"assignee": ...} for the Jira user with the owner's e-mail, or {} (unassigned) when there is
        none or the account may not search users. A transient failure is raised: retried later."""
        if not owner:
            return {}
        cloud = self.flavor == "cloud"
        what = f"find the user {owner}"
        params = {"query": owner} if cloud else {"username": owner}
        try:
            users = self._json(self._call("GET", "/user/search", what, params=params), what)
        except DeliveryError as exc:
            if exc.transient:
                raise
            log.warning("%s; the issue stays unassigned", exc)
            return {}
        same = [u for u in users if str(u.get("emailAddress", "")).lower() == owner.lower()]
        if not same and len(users) == 1:  # Cloud hides the e-mail of users who chose so: one hit is them
            same = users
        if not same:
            log.warning("%s: no such Jira user; the issue stays unassigned", what)
            return {}
        user = same[0]
        return {"assignee": {"accountId": user["accountId"]} if cloud else {"name": user["name"]}}

    # --- helpers ----------------------------------------------------------------------------------

    def _priority(self, item: Delivery) -> dict[str, Any]:
        priority = item.payload.get("priority")
        return {"priority": {"name": priority}} if priority else {}

    def _body(self, text: str) -> Any:
        """Cloud: an ADF document; Data Center: the plain text."""
        return adf(text) if self.flavor == "cloud" else text

    def _receipt(self, key: str, action: str) -> dict[str, Any]:
        return {"external_key": key, "url": f"{self.base_url}/browse/{key}", "action": action}

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        return call(
            self._session,
            method,
            self._api + path,
            what=f"{self._who} {what}",
            timeout=self.timeout,
            **kwargs,
        )

    def _json(self, resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise DeliveryError(
                f"{self._who} {what}: the answer from {redact_url(resp.url)} is not JSON; is the "
                "connection's host the Jira base URL (e.g. https://example.atlassian.net)?",
                transient=False,
            ) from None
