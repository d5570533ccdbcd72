"""The review page's web application through Flask's test client (and one real server).

Access (token, cookie, 403 on everything without it), no file served by a
request's path, decisions validated with a Chinese message, claims keeping
two graders off one item, undo, the per-question batch, and the pictures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("flask")

from papergen.grade import store  # noqa: E402
from papergen.review.app import create_app  # noqa: E402
from papergen.review.desk import ReviewDesk  # noqa: E402

TOKEN = "test-token-0123456789"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def flagged_results(small_exam, tmp_path_factory) -> Path:
    """A small pile graded with something of every kind to settle: doubtful marks, a duplicated 准考证号, 违纪."""
    from papergen.grade.pipeline import grade
    from papergen.sim.run import simulate

    base = tmp_path_factory.mktemp("review-pile")
    simulate(small_exam / "exam.json", 8, base / "scans", seed=5, degrade="scan", dpi=150,
             doubtful_rate=0.2, duplicate_ids=1, violations=1)
    grade(small_exam / "exam.json", [base / "scans"], base / "results", workers=1)
    return base / "results"


@pytest.fixture
def results(flagged_results, tmp_path) -> Path:
    copy = tmp_path / "results"
    shutil.copytree(flagged_results, copy)
    return copy


@pytest.fixture
def app(results):
    return create_app(ReviewDesk(results), TOKEN)


def client_with_token(app):
    client = app.test_client()
    assert client.get(f"/?token={TOKEN}").status_code == 303
    return client


def post(client, path: str, **body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def open_items(results: Path) -> list:
    from papergen.grade import settle

    desk = ReviewDesk(results)
    with store.deciding_store(results) as db:
        return settle.review_queue(db, desk.manifest)


def test_every_request_without_the_token_is_refused(app, results):
    client = app.test_client()
    sheet = store_sheet(results)
    for path in ["/", "/api/queue", "/api/people", "/static/review.js", "/static/review.css", "/favicon.ico",
                 f"/img/{sheet[0]}/{sheet[1]}/{sheet[2]}/thumb.jpg", "/no/such/page", "/?token=wrong"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "令牌" in response.get_data(as_text=True)
    assert post(client, "/api/next", session="s", grader="王老师").status_code == 403
    assert client.get("/", headers={"Cookie": "papergen_review_x=" + TOKEN}).status_code == 403


def test_the_token_sets_a_strict_httponly_cookie_and_leaves_the_address_bar(app):
    client = app.test_client()
    response = client.get(f"/?token={TOKEN}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert TOKEN in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "papergen 复核" in text and "已处理" in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("/static/review.js", "/static/review.css"):
        assert client.get(asset).status_code == 200


def store_sheet(results: Path) -> tuple[str, int, int]:
    with store.reading_store(results) as db:
        return store.read_pages(db)[0].key


def test_no_route_serves_a_file_by_a_path_from_the_request(app, results):
    client = client_with_token(app)
    file_hash, page, part = store_sheet(results)
    attempts = [
        "/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/desk.py", "/static/../../grade/store.py",
        "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/img/../../etc/passwd",
        f"/img/{file_hash}/{page}/{part}/..%2f..%2fetc%2fpasswd", f"/img/{file_hash}/{page}/{part}/review.js",
        f"/img/{file_hash}/{page}/{part}/q9999.png", f"/img/{'0' * 64}/1/1/thumb.jpg", "/img/..%2f..%2fresults.sqlite/1/1/thumb.jpg",
        "/results.sqlite", "/templates/review.html",
    ]
    for path in attempts:
        response = client.get(path, follow_redirects=True)  # Werkzeug merges "//" with a redirect first
        assert response.status_code in (403, 404), path
        body = response.get_data()
        assert b"root:" not in body and b"def create_app" not in body and b"SQLite format" not in body, path


def test_pictures_come_from_the_sheets_in_the_store(app, results):
    client = client_with_token(app)
    file_hash, page, part = store_sheet(results)
    thumb = client.get(f"/img/{file_hash}/{page}/{part}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"
    crop = client.get(f"/img/{file_hash}/{page}/{part}/id.png")
    assert crop.status_code == 200 and crop.data[:8] == b"\x89PNG\r\n\x1a\n"
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(thumb.data, np.uint8), cv2.IMREAD_COLOR)
    assert 300 <= image.shape[1] <= 330  # an A4 page at 1.5 px/mm


def first_mark(client, grader="王老师", session="tab-1", skip=()):
    """Claim items in queue order until a mark item comes up (the others are put off)."""
    skip = list(skip)
    while True:
        data = post(client, "/api/next", session=session, grader=grader, skip=skip).get_json()
        item = data["item"]
        if item is None or item["kind"] == "mark":
            return item
        skip.append(item["id"])


def test_a_letter_the_question_does_not_have_is_refused_in_chinese(app):
    client = client_with_token(app)
    item = first_mark(client)
    assert item is not None
    response = post(client, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="answer", new="Z")
    assert response.status_code == 400
    assert CHINESE.search(response.get_json()["error"])
    missing = post(client, "/api/decide", id=item["id"], session="tab-1", grader="", field="answer", new="A")
    assert missing.status_code == 400 and "阅卷人" in missing.get_json()["error"]
    not_json = client.post("/api/decide", data="id=1", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415


def test_a_decision_is_an_override_with_the_graders_name(app, results):
    client = client_with_token(app)
    item = first_mark(client)
    response = post(client, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="answer",
                    new=item["letters"][0], reason="")
    assert response.status_code == 200, response.get_json()
    with store.deciding_store(results) as db:
        decided = store.overrides(db)
    assert [(o.grader, o.field, o.new, o.number) for o in decided] == [("王老师", "answer", item["letters"][0], item["number"])]
    assert item["id"] not in {i.id for i in open_items(results)}


def test_undo_reopens_the_item_and_keeps_the_audit_trail(app, results):
    client = client_with_token(app)
    item = first_mark(client)
    post(client, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="answer", new="")
    undone = post(client, "/api/undo", grader="王老师").get_json()
    assert undone["item"] == item["id"]
    assert item["id"] in {i.id for i in open_items(results)}
    with store.deciding_store(results) as db:
        assert [o.state for o in store.overrides(db, active_only=False)] == ["undone"]
    assert post(client, "/api/undo", grader="王老师").status_code == 404  # nothing left to undo
    assert post(client, "/api/undo", grader="李老师").status_code == 404  # never someone else's


def test_an_item_one_tab_holds_is_not_offered_to_another(app):
    one, two = client_with_token(app), client_with_token(app)
    item = first_mark(one, session="tab-1")
    opened = post(two, "/api/open", id=item["id"], session="tab-2", grader="李老师")
    assert opened.status_code == 409 and CHINESE.search(opened.get_json()["error"])
    decided = post(two, "/api/decide", id=item["id"], session="tab-2", grader="李老师", field="answer", new="A")
    assert decided.status_code == 409
    queue = two.get("/api/queue?session=tab-2").get_json()
    assert {e["id"]: e["held_by"] for e in queue["items"]}[item["id"]] == "王老师"
    post(one, "/api/release", id=item["id"], session="tab-1")
    assert post(two, "/api/open", id=item["id"], session="tab-2", grader="李老师").status_code == 200


def test_two_graders_at_once_never_get_the_same_item_and_both_decisions_land(app, results):
    marks = [i.id for i in open_items(results) if i.kind == "mark"]
    assert len(marks) >= 4, "the pile should have doubtful marks to share"
    got: dict[str, list[str]] = {"王老师": [], "李老师": []}
    errors: list[str] = []

    def work(grader: str, session: str) -> None:
        client = client_with_token(app)
        skip: list[str] = []
        while True:
            data = post(client, "/api/next", session=session, grader=grader, skip=skip).get_json()
            item = data["item"]
            if item is None or item["id"] in skip:
                return
            if item["kind"] != "mark":
                skip.append(item["id"])
                continue
            got[grader].append(item["id"])
            response = post(client, "/api/decide", id=item["id"], session=session, grader=grader, field="answer",
                            new=item["letters"][0])
            if response.status_code != 200:
                errors.append(f"{grader}: {response.get_json()}")

    threads = [threading.Thread(target=work, args=(name, f"tab-{name}")) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert not set(got["王老师"]) & set(got["李老师"])
    assert sorted(got["王老师"] + got["李老师"]) == sorted(marks)
    with store.deciding_store(results) as db:
        decided = store.overrides(db)
    assert len(decided) == len(marks)
    assert {o.grader for o in decided} <= {"王老师", "李老师"}


def test_the_per_question_view_settles_many_marks_with_one_answer(app, results):
    client = client_with_token(app)
    marks = [i for i in open_items(results) if i.kind == "mark"]
    number = max({i.number for i in marks}, key=lambda n: sum(i.number == n for i in marks))
    group = client.get(f"/api/question/{number}?all=1").get_json()
    ids = [i["id"] for i in group["items"]]
    assert ids and all(i["number"] == number for i in group["items"])
    assert group["others"], "every other sheet's reading of the question is shown beside them"
    bad = post(client, "/api/decide-many", ids=ids, session="tab-1", grader="王老师", new="Q")
    assert bad.status_code == 400
    response = post(client, "/api/decide-many", ids=ids, session="tab-1", grader="王老师", new="").get_json()
    assert sorted(response["decided"]) == sorted(ids) and not response["left"]
    with store.deciding_store(results) as db:
        assert len(store.overrides(db)) == len(ids)
    assert client.get("/api/question/999").status_code == 404


def test_the_server_binds_a_free_port_and_checks_the_token(results):
    from papergen.review.serve import start

    running = start(results, host="127.0.0.1", port=0)
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    try:
        assert running.port > 0 and running.url.startswith(f"http://127.0.0.1:{running.port}/?token=")
        assert running.lan_url is None
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{running.port}/api/queue", timeout=10)
        assert refused.value.code == 403
        import http.cookiejar

        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(running.url, timeout=10) as page:  # the token, then the redirect with its cookie
            assert "papergen 复核" in page.read().decode("utf-8")
    finally:
        running.server.shutdown()
        running.server.server_close()
    lan = start(results, host="0.0.0.0", port=0)
    try:
        assert lan.lan_url and lan.lan_url.endswith(f":{lan.port}/?token={lan.token}")
        assert not lan.lan_url.startswith("http://0.0.0.0")
    finally:
        lan.server.server_close()


def test_a_duplicated_id_is_settled_sheet_by_sheet_and_its_sheets_are_held_together(app, results):
    one, two = client_with_token(app), client_with_token(app)
    item = post(one, "/api/next", session="tab-1", grader="王老师").get_json()["item"]
    assert item["reason"] == "duplicate-id" and len(item["sheets"]) == 2  # identity first
    sibling = next(s["id"] for s in item["sheets"] if s["id"] != item["id"])
    assert post(two, "/api/open", id=sibling, session="tab-2", grader="李老师").status_code == 409
    digits = app_desk_digits(results)
    wrong = post(one, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="student_id", new="12",
                 sheet=sibling)
    assert wrong.status_code == 400 and f"{digits} 位" in wrong.get_json()["error"]
    new_id = "9" * digits
    settled = post(one, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="student_id", new=new_id,
                   sheet=sibling)
    assert settled.status_code == 200, settled.get_json()
    still_open = {i.id for i in open_items(results)}
    assert item["id"] not in still_open and sibling not in still_open
    with store.deciding_store(results) as db:
        (decision,) = store.overrides(db)
    assert (decision.field, decision.new, decision.grader) == ("student_id", new_id, "王老师")
    assert sibling.split(":")[1] == decision.file_hash


def app_desk_digits(results) -> int:
    return ReviewDesk(results).manifest.sheet.id_digits


def test_a_sheet_flag_is_confirmed_yes_or_no(app, results):
    client = client_with_token(app)
    violation = next(i for i in open_items(results) if i.reason == "violation-marked")
    assert post(client, "/api/open", id=violation.id, session="tab-1", grader="王老师").status_code == 200
    answer = post(client, "/api/decide", id=violation.id, session="tab-1", grader="王老师", field="answer", new="A")
    assert answer.status_code == 400  # a sheet flag is not a question
    assert post(client, "/api/decide", id=violation.id, session="tab-1", grader="王老师", field="violation",
                new="1").status_code == 200
    assert violation.id not in {i.id for i in open_items(results)}


def test_the_pages_files_are_package_data():
    """A wheel carries the page: every file under review/static and review/templates matches a package-data glob."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"][
        "papergen.review"
    ]
    package = root / "papergen" / "review"
    files = [p.relative_to(package).as_posix() for folder in ("static", "templates") for p in (package / folder).rglob("*")
             if p.is_file()]
    assert {"static/review.js", "static/review.css", "templates/review.html"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)] == []


def test_the_command_refuses_a_folder_without_a_store_and_a_taken_port(results, tmp_path):
    import socket

    from click.testing import CliRunner

    from papergen.cli import cli

    missing = CliRunner().invoke(cli, ["review", str(tmp_path / "nothing"), "--no-browser"])
    assert missing.exit_code == 3 and "results.sqlite" in missing.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = CliRunner().invoke(cli, ["review", str(results), "--no-browser", "--port", str(port)])
    assert busy.exit_code == 6 and "--port" in busy.output


def test_an_item_reopened_by_a_new_reading_shows_the_earlier_decision(app, results):
    import sqlite3

    client = client_with_token(app)
    item = first_mark(client)
    post(client, "/api/decide", id=item["id"], session="tab-1", grader="王老师", field="answer", new="")
    _, file_hash, page, part, number = item["id"].split(":")
    # a rescan read the question differently: the decision was taken on another reading
    db = sqlite3.connect(results / "results.sqlite")
    with db:
        db.execute("UPDATE marks SET letters = 'AB' WHERE file_hash = ? AND page = ? AND part = ? AND number = ?",
                   (file_hash, int(page), int(part), int(number)))
    db.close()
    reopened = post(client, "/api/open", id=item["id"], session="tab-1", grader="王老师").get_json()["item"]
    assert reopened["previous"]["grader"] == "王老师" and reopened["previous"]["new"] == ""


def test_a_grader_named_on_the_command_line_is_fixed_on_the_page(results):
    client = client_with_token(create_app(ReviewDesk(results, grader="赵老师"), TOKEN))
    page = client.get("/").get_data(as_text=True)
    config = json.loads(re.search(r'<script type="application/json" id="config">(.*?)</script>', page, re.S).group(1))
    assert config["grader"] == "赵老师" and config["marked"] > config["empty"] > 0


def test_a_suspected_key_error_is_offered_and_rekeyed_in_one_step(app, results, monkeypatch):
    from types import SimpleNamespace

    from papergen.report import data

    desk = ReviewDesk(results)
    question_id = next(iter(desk.manifest.questions))
    question = desk.manifest.questions[question_id]
    other = next(letter for letter in "ABCD"[: question.options] if letter != question.answer)
    suspect = SimpleNamespace(question_id=question_id, numbers={"A": 1}, key=question.answer, suspected=other,
                              headline="高分组多选另一项", message="…")
    monkeypatch.setattr(data.ExamResults, "suspected_key_errors", lambda self: [suspect], raising=False)
    client = client_with_token(app)
    (offered,) = client.get("/api/key-errors").get_json()
    assert (offered["question_id"], offered["suspected"], offered["where"]) == (question_id, other, "A1")
    response = post(client, "/api/rekey", question_id=question_id, answer=other, grader="王老师")
    assert response.status_code == 200, response.get_json()
    with store.deciding_store(results) as db:
        (change,) = store.key_changes(db)
    assert (change.question_id, change.action, change.answers, change.grader) == (question_id, "key", (other,), "王老师")
    assert post(client, "/api/rekey", question_id=question_id, answer="Z", grader="王老师").status_code == 400


SWALLOWED_BEFORE_SERVING = """
import os, signal
import click
from papergen import cli
from papergen.review.serve import serve

class Swallows:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # the handler runs here; its raise cannot leave a __del__

@click.command()
def job():
    Swallows()
    serve(os.environ["RESULTS"], open_browser=False, say=click.echo)

cli.cli = job
cli.main()
"""


def test_a_ctrl_c_swallowed_in_a_destructor_still_closes_the_review_page(results):
    """Every Ctrl-C after the first is ignored, so the one the interpreter swallowed must still stop the server
    (``interrupts``): between two polls, as a Ctrl-C while serving does."""
    run = subprocess.run([sys.executable, "-c", SWALLOWED_BEFORE_SERVING], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "RESULTS": str(results)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().endswith("复核页面已关闭；所有决定都已保存"), run.stdout
    assert "Exception ignored" not in run.stderr and "Traceback" not in run.stderr, run.stderr
