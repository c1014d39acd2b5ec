"""A local SMTP server (aiosmtpd) on 127.0.0.1: the mail relay of the demo and the tests.

Every accepted message is kept in ``messages`` as an :class:`email.message.EmailMessage` carrying
its envelope in ``X-MailFrom`` and ``X-RcptTo`` headers (aiosmtpd's convention), and appended to an
mbox file when one is given (open it with any mail client, or ``mailbox.mbox``). ``reject()`` makes
the next messages fail with a temporary (451) or permanent (550) reply, to exercise retries.

With ``tls_context`` (a server-side :class:`ssl.SSLContext`) it offers STARTTLS, or with
``implicit_tls`` speaks TLS from the first byte (as on port 465); without, it is a plaintext relay
(the demo's, on loopback only). ``commands`` lists the command verbs every client sent, in order
(``EHLO``, ``STARTTLS``, ``AUTH``, ``MAIL``, ...; the message's own lines are not commands and are
left out), so a test can see that nothing was sent in clear that should not be.

    with SmtpStandIn(Path("demo.mbox")) as smtp:
        ...  # send to 127.0.0.1:smtp.port
"""

from __future__ import annotations

import logging
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from mailbox import mbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from mrm.demo.s3 import free_port
from mrm.demo.standins.base import HOST, StandIn
from mrm.demo.standins.faults import Fault

FAULT_REPLIES = {
    451: "451 4.3.0 Temporary local problem, try again later (stand-in fault)",
    550: "550 5.7.1 Message rejected by policy (stand-in fault)",
}


class _Handler:
    """aiosmtpd handler: apply a pending fault, else keep the message."""

    def __init__(self, stand_in: SmtpStandIn):
        self.stand_in = stand_in

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self.stand_in.faults.take()
        if fault:
            return fault.body
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-MailFrom"] = envelope.mail_from
        message["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        self.stand_in._keep(message)
        return "250 2.0.0 Message accepted for delivery"


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP session, recording the verb of each command line the client sends."""

    def __init__(self, *args: Any, stand_in: SmtpStandIn, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._stand_in = stand_in
        self._pending = b""
        self._in_data = False

    def data_received(self, data: bytes) -> None:  # plaintext, or decrypted after STARTTLS
        self._pending += data
        *lines, self._pending = self._pending.split(b"\r\n")
        for line in lines:
            self._note(line)
        super().data_received(data)

    def _note(self, line: bytes) -> None:
        if self._in_data:
            self._in_data = line != b"."
            return
        verb = line.split(b" ", 1)[0].decode("ascii", "replace").upper()
        if verb:
            self._stand_in._command(verb)
        self._in_data = verb == "DATA"


class _Controller(Controller):
    def __init__(self, handler: Any, stand_in: SmtpStandIn, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._stand_in = stand_in

    def factory(self) -> SMTP:
        return _RecordingSMTP(self.handler, stand_in=self._stand_in, **self.SMTP_kwargs)


class SmtpStandIn(StandIn):
    """``mailbox``: an mbox file that receives a copy of every accepted message. ``credentials``:
    (login, password) to require AUTH (offered on plaintext too, so a test can see whether a client
    would send it). ``tls_context``: offer STARTTLS with it (``implicit_tls``: TLS on connect instead).
    ``port`` 0: a free one."""

    def __init__(
        self,
        mailbox: Path | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        port: int = 0,
    ):
        if implicit_tls and tls_context is None:
            raise ValueError("implicit_tls needs a tls_context")
        super().__init__()
        self.mailbox = mailbox
        self.credentials = credentials
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.port = port
        self.messages: list[EmailMessage] = []
        self.commands: list[str] = []  # the verb of every command line received, in order
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def host(self) -> str:
        return HOST

    def start(self) -> SmtpStandIn:
        # aiosmtpd checks it is up by connecting to its port, so port 0 must be resolved first
        self.port = self.port or free_port()
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # INFO lines per session otherwise
        options: dict[str, Any] = {}
        if self.tls_context is not None:
            options["ssl_context" if self.implicit_tls else "tls_context"] = self.tls_context
        if self.credentials:
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = _Controller(_Handler(self), self, hostname=HOST, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reject(self, code: int = 451, times: int = 1) -> None:
        """Answer the next ``times`` messages with ``code`` (451: try later, 550: permanent)."""
        if code not in FAULT_REPLIES:
            raise ValueError(f"reject() supports codes {sorted(FAULT_REPLIES)}, not {code}")
        self.faults.add(Fault(code, times, body=FAULT_REPLIES[code]))

    def _command(self, verb: str) -> None:
        with self._lock:
            self.commands.append(verb)

    def _keep(self, message: EmailMessage) -> None:
        with self._lock:
            self.messages.append(message)
            if self.mailbox is not None:
                box = mbox(self.mailbox)
                try:
                    box.add(message)
                    box.flush()
                finally:
                    box.close()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        expected = tuple(part.encode() for part in self.credentials or ("", ""))
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == expected
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 on failure
