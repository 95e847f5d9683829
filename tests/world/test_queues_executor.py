"""queue.Queue family, SimpleQueue and ThreadPoolExecutor inside a run."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time

import pytest

from pytest_concurrency.world.api import explore


@pytest.mark.parametrize("kind", [queue.Queue, queue.LifoQueue, queue.PriorityQueue])
def test_bounded_queue_producer_consumer(kind: type) -> None:
    def scenario() -> None:
        q = kind(maxsize=1)
        got: list[int] = []

        def producer() -> None:
            for i in range(3):
                q.put(i)

        def consumer() -> None:
            for _ in range(3):
                got.append(q.get(timeout=5))

        threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == [0, 1, 2]
        start = time.monotonic()
        with pytest.raises(queue.Empty):
            q.get(timeout=7)
        assert time.monotonic() - start == 7

    assert explore(scenario, strategy="dfs", preemption_bound=1).exhausted


def test_simple_queue_is_controlled() -> None:
    def scenario() -> None:
        q = queue.SimpleQueue()
        assert isinstance(q, queue.SimpleQueue)
        assert type(q).__module__ == "pytest_concurrency.world.queues"
        t = threading.Thread(target=lambda: q.put("x"))
        t.start()
        assert q.get(timeout=1) == "x"
        t.join()
        assert q.empty() and q.qsize() == 0
        with pytest.raises(queue.Empty):
            q.get_nowait()
        with pytest.raises(queue.Empty):
            q.get(timeout=2)
        with pytest.raises(ValueError, match="non-negative"):
            q.get(timeout=-1)

    assert explore(scenario, strategy="dfs").exhausted


def test_thread_pool_executor_runs_controlled() -> None:
    workers: list[str] = []

    def scenario() -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(pow, 2, i) for i in range(3)]
            assert [f.result(timeout=5) for f in futures] == [1, 2, 4]
            workers.extend(t.name for t in pool._threads)  # type: ignore[attr-defined]

    result = explore(scenario, strategy="random", runs=20, seed=5)
    assert result.schedules_run == 20
    assert workers  # the pool did start worker threads, all joined afterwards


def test_executor_left_running_is_reported() -> None:
    from pytest_concurrency.world.report import Deadlock

    kept: list[object] = []

    def scenario() -> None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        kept.append(pool)  # alive and never shut down: its worker waits forever
        pool.submit(int).result()

    with pytest.raises(Deadlock, match="end of the scenario"):
        explore(scenario, strategy="random", runs=1)
