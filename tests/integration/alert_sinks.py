"""Where a test's alerts land: a real SMTP server (aiosmtpd) and an HTTP receiver that plays
both a chat webhook intake and the WeCom (企业微信) API that Alertmanager's native
`wechat_configs` calls (GET gettoken, then POST message/send).

Both listen on free 127.0.0.1 ports, run in threads and only record what they receive.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from workers import free_port

WECOM_TOKEN = "test-access-token"


@dataclass
class Mail:
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """Every text part of the message, decoded."""
        parts = [p for p in self.message.walk() if p.get_content_maintype() == "text"]
        return "\n".join(p.get_content() for p in parts)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self.sink.lock:
            self.sink.mails.append(Mail(list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


class SmtpSink:
    """A real SMTP server (no TLS, no auth, like a host's local relay) that keeps every mail."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.rcpt_tos]


@dataclass
class HttpSink:
    """Chat webhooks (POST /hook/<original host>/<path>) and a WeCom API (/cgi-bin/...)."""

    port: int = field(default_factory=free_port)
    webhooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    wecom_tokens: list[dict[str, str]] = field(default_factory=list)
    wecom_messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/cgi-bin/gettoken":
                    self.send_error(404)
                    return
                query = dict(urllib.parse.parse_qsl(url.query))
                with sink.lock:
                    sink.wecom_tokens.append(query)
                self._answer(
                    {"errcode": 0, "errmsg": "ok", "access_token": WECOM_TOKEN, "expires_in": 7200}
                )

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if url.path == "/cgi-bin/message/send":
                    token = dict(urllib.parse.parse_qsl(url.query)).get("access_token")
                    if token != WECOM_TOKEN:
                        self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
                        return
                    with sink.lock:
                        sink.wecom_messages.append(body)
                    self._answer({"errcode": 0, "errmsg": "ok"})
                elif url.path.startswith("/hook/"):
                    with sink.lock:
                        sink.webhooks.append((url.path.removeprefix("/hook/"), body))
                    self._answer({"ok": True})
                else:
                    self.send_error(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hook_url(self, original: str) -> str:
        """The loopback URL standing in for a production webhook URL (host and path kept)."""
        u = urllib.parse.urlsplit(original)
        return f"{self.base}/hook/{u.netloc}{u.path}"

    def posted_to(self, original: str) -> list[dict[str, Any]]:
        u = urllib.parse.urlsplit(original)
        with self.lock:
            return [b for where, b in self.webhooks if where == f"{u.netloc}{u.path}"]
