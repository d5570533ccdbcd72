"""Starting the review page: a free port, the URL with its token, the browser.

``serve`` binds Werkzeug's threaded server (one thread per request: a few
graders' tabs, pictures drawn in parallel) to 127.0.0.1 — or the host asked
for, e.g. ``0.0.0.0`` for graders on the LAN — on a free port unless one is
given, prints the URL with this run's token, opens it in the browser when
this machine has a display, and serves until Ctrl-C. Every decision is
committed when it is made, so stopping loses nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from papergen.core.errors import Interrupted, OutputError
from papergen.core.interrupts import stop_if_lost
from papergen.review.app import create_app
from papergen.review.desk import ReviewDesk

LOCALHOST = "127.0.0.1"


class PortUnavailable(OutputError):
    """The port asked for is taken (or not ours to bind)."""


@dataclass
class ReviewServer:
    """A bound, not yet serving, review server (``start``), for ``serve`` and for tests."""

    server: BaseWSGIServer
    token: str
    host: str

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def url(self) -> str:
        """The URL for this machine (always 127.0.0.1: it works whatever host was bound)."""
        return f"http://{LOCALHOST}:{self.port}/?token={self.token}"

    @property
    def lan_url(self) -> str | None:
        """The URL another machine uses, when the server listens beyond this one."""
        if self.host in (LOCALHOST, "localhost", "::1"):
            return None
        address = lan_address() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{address}:{self.port}/?token={self.token}"


def lan_address() -> str:
    """This machine's address on its LAN: the interface a packet to the outside would leave by (none is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing is sent on a UDP connect
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def has_display() -> bool:
    """Whether a browser window could open here (a desktop session, not an SSH shell or a server)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start(
    results_dir: str | Path, *, host: str = LOCALHOST, port: int = 0, grader: str | None = None,
    roster: str | Path | None = None,
) -> ReviewServer:
    """Open the desk and bind the server (port 0: a free one); ``serve_forever`` is left to the caller."""
    desk = ReviewDesk(results_dir, roster=roster, grader=grader)
    token = secrets.token_urlsafe(24)
    app = create_app(desk, token)
    _check_bindable(host, port)
    server = make_server(host, port, app, threaded=True)
    return ReviewServer(server, token, host)


def _check_bindable(host: str, port: int) -> None:
    """Refuse a taken port or an unknown host in Chinese (Werkzeug would print English and exit 1)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            probe.bind((host, port))
    except OSError as exc:
        raise PortUnavailable(
            f"无法在 {host}:{port} 上启动复核页面：{exc.strerror or exc}",
            hint="换一个 --port，或不给 --port，让 papergen 自动选一个空闲端口",
        ) from None


def serve(
    results_dir: str | Path, *, host: str = LOCALHOST, port: int = 0, grader: str | None = None,
    roster: str | Path | None = None, open_browser: bool = True, say: Callable[[str], None] = print,
) -> None:
    """``papergen review``: serve the review page until Ctrl-C."""
    running = start(results_dir, host=host, port=port, grader=grader, roster=roster)
    say(f"复核页面：{running.url}")
    if running.lan_url:
        say(f"局域网内其他阅卷人：{running.lan_url}")
        say("地址中的令牌就是密码：只发给阅卷人")
    if open_browser and has_display():
        threading.Timer(0.3, webbrowser.open, [running.url]).start()
    say("按 Ctrl-C 结束；每个决定在做出时已经保存")
    # serve_forever calls service_actions between polls: a Ctrl-C the interpreter swallowed in a __del__
    # (``interrupts``) stops serving there, since every later Ctrl-C is ignored.
    running.server.service_actions = stop_if_lost
    try:
        running.server.serve_forever()
    except (KeyboardInterrupt, Interrupted):
        say("复核页面已关闭；所有决定都已保存")
    finally:
        running.server.server_close()
