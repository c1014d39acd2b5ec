"""The demo's (and integration tests') notification peers on 127.0.0.1: a Jira Cloud stand-in, an SMTP
server writing a mailbox file, a Slack incoming-webhook stand-in, and SNS on the moto server (a topic
for RED alerts with an SQS queue subscribed, so the messages can be read back). Sets the
AIRFLOW_CONN_MRM_* variables that ``_policy.yaml``'s channels name."""

from __future__ import annotations

import json
import mailbox
import os
from dataclasses import dataclass
from pathlib import Path

from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.demo.standins.smtp import SmtpStandIn

RED_TOPIC = "mrm-red"
CONNECTIONS = ("AIRFLOW_CONN_MRM_JIRA", "AIRFLOW_CONN_MRM_SMTP", "AIRFLOW_CONN_MRM_SLACK")


@dataclass
class Peers:
    folder: Path
    jira: JiraStandIn
    smtp: SmtpStandIn
    slack: Receiver
    sns_queue_url: str | None

    @property
    def mailbox(self) -> Path:
        return self.folder / "mailbox.mbox"

    def mails(self) -> list[tuple[str, str]]:
        """(To, Subject) of every message in the mailbox, headers unfolded."""
        if not self.mailbox.exists():
            return []
        box = mailbox.mbox(self.mailbox)
        try:
            return [(" ".join(str(m["To"]).split()), " ".join(str(m["Subject"]).split())) for m in box]
        finally:
            box.close()

    def sns_messages(self) -> list[dict]:
        """Messages SNS delivered to the queue subscribed to the RED topic (each read once)."""
        if not self.sns_queue_url:
            return []
        import boto3

        sqs = boto3.client("sqs", region_name="us-east-1")
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=self.sns_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.sns_queue_url, ReceiptHandle=m["ReceiptHandle"])

    def stop(self) -> None:
        sns = self.sns_messages()
        if sns:
            with (self.folder / "sns.jsonl").open("a") as f:
                f.writelines(json.dumps(m) + "\n" for m in sns)
        self.jira.dump(self.folder / "jira-issues.json")
        for peer in (self.jira, self.smtp, self.slack):
            peer.stop()

    def report(self) -> list[str]:
        issues = self.jira.issues.values()
        comments = sum(len(i["comments"]) for i in issues)
        subjects = [subject for _, subject in self.mails()]
        lines = [
            f"  Jira stand-in ({self.jira.base_url}): {len(issues)} issue(s), {comments} comment(s) "
            f"-> {self.folder / 'jira-issues.json'}",
            f"  e-mail (SMTP stand-in): {len(subjects)} message(s) "
            f"({sum(s.startswith('[RED]') for s in subjects)} RED alert(s), "
            f"{sum(s.startswith('[AMBER]') for s in subjects)} AMBER digest(s), "
            f"{sum(s.startswith('[ESCALATED]') for s in subjects)} escalation(s)) -> {self.mailbox}",
            f"  Slack stand-in: {len(self.slack.received)} message(s) -> {self.folder / 'slack.jsonl'}",
        ]
        sns_file = self.folder / "sns.jsonl"
        if sns_file.exists():
            count = len(sns_file.read_text().splitlines())
            lines.append(f"  SNS topic {RED_TOPIC} (moto): {count} message(s) -> {sns_file}")
        return lines


def _sns_topic() -> str | None:
    """A RED topic with an SQS queue subscribed, on the moto server AWS_ENDPOINT_URL points at."""
    if not os.environ.get("AWS_ENDPOINT_URL"):
        return None
    import boto3

    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name=RED_TOPIC)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{RED_TOPIC}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return queue


def start_peers(folder: Path, people: dict[str, str], project: str = "RISK") -> Peers:
    """``people``: e-mail -> display name of the Jira users (model owners) issues are assigned to;
    ``project``: the Jira project key that exists (``_policy.yaml`` files tickets in RISK)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("mailbox.mbox", "slack.jsonl", "sns.jsonl", "jira-issues.json"):
        (folder / name).unlink(missing_ok=True)
    jira = JiraStandIn("cloud", users=people, projects=(project,))
    jira_url = jira.start()
    smtp = SmtpStandIn(mailbox=folder / "mailbox.mbox").start()
    slack = Receiver(log=folder / "slack.jsonl").start()
    os.environ["AIRFLOW_CONN_MRM_JIRA"] = json.dumps(
        {"conn_type": "http", "host": jira_url, "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN}
    )
    # the demo's own relay: plain SMTP on loopback, no login. mrm requires STARTTLS by default, so the
    # demo says insecure: true for this stand-in only; never copy it for a relay across a network
    os.environ["AIRFLOW_CONN_MRM_SMTP"] = json.dumps(
        {"conn_type": "smtp", "host": smtp.host, "port": smtp.port, "extra": {"insecure": True}}
    )
    os.environ["AIRFLOW_CONN_MRM_SLACK"] = json.dumps({"conn_type": "http", "host": slack.url})
    return Peers(folder, jira, smtp, slack, _sns_topic())
