"""The review page's web application: routes over a ``ReviewDesk``.

Built on Flask: maintained (Pallets), small, synchronous like the rest of
papergen, and its Werkzeug development server with ``threaded=True`` is
enough for what this serves — one grader, or a few on a LAN, each request a
few milliseconds of SQLite or one picture. Starlette would need an ASGI
server (uvicorn) next to it and async code around a synchronous store for
no gain at this scale.

Access: every run makes a new token (``secrets.token_urlsafe``). The printed
URL carries it (``/?token=…``, as Jupyter does); the first request with it
sets an HttpOnly, SameSite=Strict cookie and is redirected to the bare URL,
so the token leaves the address bar. Every request without the token or the
cookie — pages, API, pictures, static files, unknown paths — gets 403 before
any route runs. Writes are JSON POSTs only (a cross-site form cannot send
one with the cookie). No route opens a file by a path from the request:
pictures come from sheets named in the store, static files from this
package's ``static`` folder (Flask's ``send_from_directory`` refuses
anything outside it).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, abort, jsonify, redirect, render_template, request

from papergen.review.desk import DeskError, ReviewDesk

#: The page is one app, its scripts and styles our own files: nothing else may run in it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


def create_app(desk: ReviewDesk, token: str) -> Flask:
    """The application for one review run; ``token`` is this run's secret."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.json.ensure_ascii = False
    # A cookie per token: two review runs on one machine (different ports, same host) never mix up.
    cookie_name = "papergen_review_" + hashlib.sha256(token.encode()).hexdigest()[:10]

    def authorised() -> bool:
        given = request.args.get("token") or request.cookies.get(cookie_name) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    @app.before_request
    def require_token():
        if not authorised():
            abort(403)
        if request.method == "POST" and not request.is_json:
            abort(415)

    @app.after_request
    def harden(response):
        if request.args.get("token") and authorised():
            response.set_cookie(cookie_name, token, httponly=True, samesite="Strict")
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(DeskError)
    def desk_error(error: DeskError):
        return jsonify(error=str(error)), error.status

    @app.errorhandler(403)
    def forbidden(_):
        return (
            "403：需要访问令牌。请使用 papergen review 启动时打印的完整地址（含 ?token=…）。\n"
            "403 Forbidden: open the URL printed by papergen review, with its token.\n",
            403, {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.get("/")
    def index():
        if request.args.get("token"):
            return redirect("/", code=303)  # the cookie is set on this response; the token leaves the address bar
        return render_template("review.html", config=desk.page_config())

    @app.get("/favicon.ico")
    def favicon():
        return "", 204

    @app.get("/api/queue")
    def queue():
        return jsonify(desk.queue(request.args.get("session", "")))

    @app.get("/api/people")
    def people():
        return jsonify(desk.people_json())

    @app.post("/api/next")
    def next_item():
        body = _body()
        return jsonify(desk.next_item(_text(body, "session"), _text(body, "grader", allow_empty=True), skip=_list(body, "skip")))

    @app.post("/api/open")
    def open_item():
        body = _body()
        return jsonify(desk.open_item(_text(body, "id"), _text(body, "session"), _text(body, "grader", allow_empty=True)))

    @app.post("/api/claim")
    def claim():
        body = _body()
        return jsonify(held=desk.renew(_text(body, "id"), _text(body, "session"), _text(body, "grader", allow_empty=True)))

    @app.post("/api/release")
    def release():
        body = _body()
        desk.release(_text(body, "id"), _text(body, "session"))
        return jsonify(released=True)

    @app.post("/api/decide")
    def decide():
        body = _body()
        return jsonify(desk.decide(
            _text(body, "id"), _text(body, "session"), _text(body, "grader", allow_empty=True), _text(body, "field"),
            _text(body, "new", allow_empty=True), reason=_text(body, "reason", allow_empty=True),
            sheet=body.get("sheet") or None,
        ))

    @app.post("/api/decide-many")
    def decide_many():
        body = _body()
        return jsonify(desk.decide_many(
            _list(body, "ids"), _text(body, "session"), _text(body, "grader", allow_empty=True), _text(body, "new", allow_empty=True),
            reason=_text(body, "reason", allow_empty=True),
        ))

    @app.post("/api/undo")
    def undo():
        return jsonify(desk.undo(_text(_body(), "grader", allow_empty=True)))

    @app.get("/api/questions")
    def questions():
        return jsonify(desk.question_counts())

    @app.get("/api/question/<int:number>")
    def question(number: int):
        return jsonify(desk.group(number, every_sheet=request.args.get("all") == "1"))

    @app.get("/api/key-errors")
    def key_errors():
        return jsonify(desk.suspected_key_errors())

    @app.post("/api/rekey")
    def rekey():
        body = _body()
        return jsonify(desk.rekey(_text(body, "question_id"), _text(body, "answer"), _text(body, "grader", allow_empty=True)))

    @app.get("/img/<file_hash>/<int:page>/<int:part>/<name>")
    def image(file_hash: str, page: int, part: int, name: str):
        data, mimetype = desk.image((file_hash, page, part), name)
        response = app.response_class(data, mimetype=mimetype)
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    return app


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DeskError("请求格式不对（应为 JSON 对象）", 400)
    return body


def _text(body: dict, name: str, *, allow_empty: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > 200 or (not value and not allow_empty):
        raise DeskError(f"请求缺少 {name}", 400)
    return value


def _list(body: dict, name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 10_000:
        raise DeskError(f"请求中的 {name} 应为文字列表", 400)
    return value


__all__ = ["create_app"]
