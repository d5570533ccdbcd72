"""``core.executor.run_jobs``: the same results from every kind, bounded work in flight, clean stops."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from papergen.core.executor import (
    EXECUTOR_ENV,
    ExecutorSettingError,
    effective_kind,
    run_jobs,
)

KINDS = ("serial", "threads", "processes")

_prepared = "no"  # set by _prepare in whichever process or thread pool ran it


def square(n: int) -> int:
    return n * n


def scaled(n: int, factor: int) -> int:
    return n * factor


def where(_: int) -> tuple[int, str]:
    return os.getpid(), threading.current_thread().name


def _prepare() -> None:
    global _prepared
    _prepared = "yes"


def prepared(_: int) -> str:
    return _prepared


def fail_on_three(n: int) -> int:
    if n == 3:
        raise ValueError("three")
    return n


def slow_reversed(n: int) -> int:
    time.sleep(0.02 * (5 - n))  # the first jobs finish last
    return n


@pytest.fixture(autouse=True)
def _no_forced_kind(monkeypatch) -> None:
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_the_results_in_job_order(kind: str) -> None:
    with run_jobs(square, list(range(23)), kind=kind, workers=2, chunksize=3) as results:
        assert list(results) == [n * n for n in range(23)]


@pytest.mark.parametrize("kind", KINDS)
def test_the_context_is_the_second_argument(kind: str) -> None:
    with run_jobs(scaled, [1, 2, 3], kind=kind, workers=2, context=10) as results:
        assert list(results) == [10, 20, 30]


@pytest.mark.parametrize("kind", ("threads", "processes"))
def test_unordered_results_come_as_jobs_finish(kind: str) -> None:
    with run_jobs(slow_reversed, [0, 1, 2, 3, 4], kind=kind, workers=2, ordered=False) as results:
        got = list(results)
    assert sorted(got) == [0, 1, 2, 3, 4]


def test_processes_are_other_processes_and_serial_is_this_one() -> None:
    with run_jobs(where, [0, 1, 2, 3], kind="processes", workers=2) as results:
        assert os.getpid() not in {pid for pid, _ in results}
    with run_jobs(where, [0, 1], kind="serial", workers=2) as results:
        assert list(results) == [(os.getpid(), threading.current_thread().name)] * 2


def test_one_worker_runs_in_this_process() -> None:
    with run_jobs(where, [0, 1], kind="processes", workers=1) as results:
        assert {pid for pid, _ in results} == {os.getpid()}


def test_the_environment_variable_makes_every_run_serial(monkeypatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "serial")
    here = (os.getpid(), threading.current_thread().name)
    for kind in ("threads", "processes"):
        assert effective_kind(kind, 4) == "serial"
        with run_jobs(where, [0, 1, 2], kind=kind, workers=2) as results:
            assert list(results) == [here] * 3


def test_an_unknown_setting_is_a_usage_error(monkeypatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "fork")
    with pytest.raises(ExecutorSettingError) as raised:
        effective_kind("processes", 2)
    assert raised.value.exit_code == 2 and "PAPERGEN_EXECUTOR" in raised.value.message


@pytest.mark.parametrize("kind", ("threads", "processes"))
def test_the_initializer_prepares_each_worker(kind: str) -> None:
    with run_jobs(prepared, list(range(6)), kind=kind, workers=2, initializer=_prepare) as results:
        assert list(results) == ["yes"] * 6


@pytest.mark.parametrize("kind", ("threads", "processes"))
def test_a_jobs_error_is_raised_in_order_and_the_workers_end(kind: str) -> None:
    before = set(multiprocessing.active_children())
    got = []
    with pytest.raises(ValueError, match="three"):
        with run_jobs(fail_on_three, list(range(50)), kind=kind, workers=2) as results:
            for n in results:
                got.append(n)
    assert got == [0, 1, 2]
    assert set(multiprocessing.active_children()) <= before


def test_no_more_than_the_window_is_submitted_ahead_of_the_reader() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            started.append(n)
        return n

    window = 3
    with run_jobs(record, list(range(40)), kind="threads", workers=2, window=window) as results:
        for taken, n in enumerate(results, start=1):
            with lock:
                assert len(started) <= taken - 1 + window
            assert n == taken - 1


def test_leaving_early_abandons_the_rest() -> None:
    abandoned = threading.Event()
    started: list[int] = []

    def record(n: int) -> int:
        started.append(n)
        time.sleep(0.01)
        return n

    with run_jobs(record, list(range(200)), kind="threads", workers=2, window=4, on_abandon=abandoned.set) as results:
        assert next(results) == 0
    assert abandoned.is_set()
    time.sleep(0.1)  # anything still running finishes; nothing queued starts
    assert len(started) <= 6


def test_finishing_normally_is_not_abandoning() -> None:
    abandoned = threading.Event()
    with run_jobs(square, [1, 2], kind="threads", workers=2, on_abandon=abandoned.set) as results:
        assert list(results) == [1, 4]
    assert not abandoned.is_set()


def test_an_error_caught_by_the_reader_still_abandons_the_rest() -> None:
    abandoned = threading.Event()
    with run_jobs(fail_on_three, list(range(100)), kind="threads", workers=2, on_abandon=abandoned.set) as results:
        with pytest.raises(ValueError):
            list(results)
    assert abandoned.is_set()
