"""The review page end to end in a real headless Chromium, keyboard only.

The demo's graded results (doubtful marks, a 准考证号 on two sheets, a 违纪
mark) are taken from "待复核" to final scores through the page alone: the
grader types a name, then for every open item presses a letter and Enter
(marks), types a 准考证号 and Enter (the duplicated number: the second sheet
belongs to the roster's student who has no sheet), Y and Enter (违纪),
Enter (anything else). Then the store is checked: nothing open, no
provisional total, every decision carries the grader's name.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them); skipped, saying why, only when they cannot be found. Set
``PAPERGEN_REVIEW_SHOTS=DIR`` to keep screenshots of each kind of item.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import threading
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from papergen.grade.reader import BINARY_FAINT_HINT  # noqa: E402

GRADER = "王老师"


def _browser() -> tuple[str, str]:
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(p)), None
    )
    if binary is None or driver is None:
        pytest.skip("headless Chromium not found: install Debian's chromium and chromium-driver (.ci/run does)")
    return binary, driver


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory) -> Path:
    """``papergen demo`` once: its folder (the first exam's results are graded, with items to review)."""
    from papergen.demo import run_demo

    folder = tmp_path_factory.mktemp("review-demo") / "demo"
    run_demo(folder)
    return folder


@pytest.fixture
def browser():
    binary, driver_path = _browser()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000",
                     "--lang=zh-CN", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def review_server(demo_results, tmp_path):
    from papergen.review.serve import start

    results = tmp_path / "results"
    shutil.copytree(demo_results / "2026-mock-03" / "results", results)
    running = start(results, roster=demo_results / "名单.csv")
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    yield running, results
    running.server.shutdown()
    running.server.server_close()


def _shot(driver, name: str) -> None:
    folder = os.environ.get("PAPERGEN_REVIEW_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _current(driver) -> tuple[str, str] | None:
    """(item id, kind) of the item shown, or None on the done page."""
    try:
        if driver.find_element(By.ID, "done-view").is_displayed():
            return None
        if not driver.find_element(By.ID, "item-view").is_displayed():
            return ("", "")
        card = driver.find_element(By.CSS_SELECTOR, "#item-view .card[data-item]")
        return card.get_attribute("data-item"), card.get_attribute("data-kind")
    except (StaleElementReferenceException, Exception):
        return ("", "")


def _wait_for_change(driver, before: str | None, timeout: float = 30) -> tuple[str, str] | None:
    def changed(d):
        now = _current(d)
        if now is None:
            return "done"
        return now if now[0] and now[0] != before else False

    try:
        result = WebDriverWait(driver, timeout, poll_frequency=0.1).until(changed)
    except TimeoutException:
        notice = driver.find_element(By.ID, "notice").text
        raise AssertionError(f"the page did not move on from {before!r}; it says: {notice!r}") from None
    return None if result == "done" else result


def _keys(driver, text: str) -> None:
    ActionChains(driver).send_keys(text).perform()


def test_a_grader_settles_every_item_of_the_demo_with_the_keyboard(browser, review_server, demo_results):
    running, results = review_server
    from papergen.grade import settle, store
    from papergen.grade.results import STATUS_REVIEW, results_text, student_results
    from papergen.review.desk import ReviewDesk

    desk = ReviewDesk(results)
    with store.deciding_store(results) as db:
        before = settle.review_queue(db, desk.manifest)
        in_store = {s.student_id for s in settle.settled_sheets(db, desk.manifest)}
    assert len(before) >= 19 and any(i.reason == "duplicate-id" for i in before)
    # the student whose sheet carries another's 准考证号 is the class's number that no sheet carries
    known = sorted(sid for sid in in_store if sid)
    without_sheet = [sid for sid in (f"{known[0][:-4]}{n:04d}" for n in range(1, 100)) if sid not in in_store][:3]
    truth = {row["file"]: row for row in csv.DictReader(
        (demo_results / "2026-mock-03" / "scans" / "truth.csv").open(encoding="utf-8-sig"))}

    browser.get(running.url)
    name = WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "who-name"))
    name.send_keys(GRADER + "\n")  # the name is asked for before anything can be decided
    shown = _wait_for_change(browser, None)
    seen_kinds: set[str] = set()
    hinted = 0  # faint marks on the demo's black-and-white pages
    for _ in range(3 * len(before)):
        if shown is None:
            break
        item_id, kind = shown
        card = browser.find_element(By.CSS_SELECTOR, "#item-view .card")
        if kind == "mark":
            if "mark" not in seen_kinds:
                _shot(browser, "mark")
            seen_kinds.add("mark")
            # what the student meant: the simulation's truth ("" = left blank), else the key
            number = int(item_id.rsplit(":", 1)[1])
            message = card.find_element(By.CSS_SELECTOR, ".message").text  # which options are in doubt, and why
            assert message.startswith(f"第 {number} 题") and "选项" in message, message
            hinted += BINARY_FAINT_HINT in message
            where = card.find_element(By.CSS_SELECTOR, ".meta").text
            row = next((r for f, r in truth.items() if f in where), None)
            letters = row[str(number)] if row else card.find_element(By.CSS_SELECTOR, ".fact .v.key").text.strip()[:1]
            _keys(browser, letters.lower() or "0")
            _keys(browser, "\n")
        elif card.find_elements(By.CSS_SELECTOR, ".sheet-card"):
            seen_kinds.add("duplicate")
            _shot(browser, "duplicate")
            # the second sheet belongs to the student who has no sheet: keep both, reassign it
            inputs = card.find_elements(By.CSS_SELECTOR, ".sheet-card input")
            inputs[-1].click()
            inputs[-1].send_keys(without_sheet[0] + "\n")
        elif card.find_elements(By.CSS_SELECTOR, ".id-entry input"):
            seen_kinds.add("identity")
            field = card.find_element(By.CSS_SELECTOR, ".id-entry input")
            field.send_keys(without_sheet.pop() + "\n")
        elif kind == "sheet" and card.find_elements(By.CSS_SELECTOR, "#choices [data-letter='1']"):
            seen_kinds.add("yes-no")
            _shot(browser, "violation")
            _keys(browser, "y")
            _keys(browser, "\n")
        else:
            seen_kinds.add(kind)
            _keys(browser, "\n")
        shown = _wait_for_change(browser, item_id)
    assert shown is None, "the queue never emptied"
    assert hinted, "no faint mark on a black-and-white page said why it could not be decided"
    done = browser.find_element(By.ID, "done-view").text
    assert "全部处理完毕" in done and "总分已确定" in done
    _shot(browser, "done")
    assert {"mark", "duplicate", "yes-no"} <= seen_kinds

    with store.deciding_store(results) as db:
        assert settle.review_queue(db, desk.manifest) == []
        decisions = store.overrides(db)
        students = student_results(db, desk.manifest)
        table = results_text(db, desk.manifest, "csv")
    assert decisions and {d.grader for d in decisions} == {GRADER}
    assert len(decisions) >= len(before) - 1  # one decision settles both sheets of the duplicated number
    assert not [s.student_id for s in students if s.status == STATUS_REVIEW]
    totals = [row["总分"] for row in csv.DictReader(io.StringIO(table))]
    assert totals and not [t for t in totals if "*" in t], table


def test_one_question_is_settled_in_one_pass_and_z_takes_the_last_decision_back(browser, review_server):
    running, results = review_server
    from papergen.grade import settle, store
    from papergen.review.desk import ReviewDesk

    desk = ReviewDesk(results)
    with store.deciding_store(results) as db:
        marks = [i for i in settle.review_queue(db, desk.manifest) if i.kind == "mark"]
    number = max({i.number for i in marks}, key=lambda n: sum(i.number == n for i in marks))
    expected = sorted(i.id for i in marks if i.number == number)

    browser.get(running.url)
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "who-name")).send_keys(GRADER + "\n")
    _wait_for_change(browser, None)
    # the first item is about a 准考证号 (its input has the focus): Esc leaves the input, Q opens the question index
    _keys(browser, "\ue00c")
    _keys(browser, "q")
    button = WebDriverWait(browser, 20).until(
        lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "#group-view .choice") if f"第 {number} 题" in b.text), None)
    )
    button.click()
    WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#group-view .tile.selected")) == len(expected))
    _shot(browser, "group")
    _keys(browser, "a")
    _keys(browser, "\n")
    WebDriverWait(browser, 20).until(lambda d: "已把" in d.find_element(By.ID, "notice").text)
    with store.deciding_store(results) as db:
        decided = store.overrides(db)
    assert sorted(f"mark:{d.file_hash}:{d.page}:{d.part}:{d.number}" for d in decided) == expected
    assert {(d.new, d.grader) for d in decided} == {("A", GRADER)}

    _keys(browser, "\ue00c")  # Escape: back to one item at a time
    first = _wait_for_change(browser, None)
    _keys(browser, "\ue00c")  # out of the 准考证号 input the identity item focuses
    _keys(browser, "l")  # put it off: the next item comes, the first stays open
    later = _wait_for_change(browser, first[0])
    assert later and first[0] in [li.get_attribute("data-id") for li in browser.find_elements(By.CSS_SELECTOR, "#queue-list li")]
    _keys(browser, "\ue00c")
    _keys(browser, "z")
    WebDriverWait(browser, 20).until(lambda d: "已撤销" in d.find_element(By.ID, "notice").text)
    with store.deciding_store(results) as db:
        assert len(store.overrides(db)) == len(expected) - 1
        assert [d.state for d in store.overrides(db, active_only=False)].count("undone") == 1
