"""A downstream project's tests, using every fixture of an installed wheel.

Run by ``.ci/wheel_smoke.sh`` in a fresh virtual environment where the package
is installed from its wheel with no extras: whatever these tests need beyond
pytest must come from the runtime dependencies.
"""

import datetime
import threading
import time

import pytest

from pytest_concurrency.contracts import SingleFlightContract
from reference_impl import SingleFlight


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def add(self):
        with self._lock:
            self.value += 1


class Cache:
    def __init__(self, loader):
        self._loader = loader
        self._lock = threading.Lock()
        self._values = {}

    def get(self, key):
        with self._lock:
            if key not in self._values:
                self._values[key] = self._loader(key)
            return self._values[key]


def test_fake_clock_moves_datetime_and_wakes_sleepers(fake_clock):
    before = datetime.datetime.now()
    woke = threading.Event()
    sleeper = threading.Thread(target=lambda: (time.sleep(480), woke.set()))
    sleeper.start()
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(480)
    sleeper.join(timeout=5)
    assert woke.is_set()
    assert datetime.datetime.now() - before >= datetime.timedelta(seconds=480)


def test_gated_fake_holds_callers(gated_fake):
    loader = gated_fake(return_value="v")
    cache = Cache(loader)
    threads = [threading.Thread(target=cache.get, args=("k",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert loader.wait_for_callers(1, timeout=5)
    loader.open()
    for thread in threads:
        thread.join(timeout=5)
    assert loader.calls == 1


def test_gated_encoder_counts_calls(gated_encoder):
    encoder = gated_encoder(opened=True)
    assert encoder.encode(["cat"]) == [encoder.vector("cat")]
    assert encoder.encode_calls == 1


@pytest.mark.no_leaks("threads")
def test_no_leaks_passes_when_threads_are_joined():
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join(timeout=5)


def test_interleavings_fixture_explores_every_schedule(interleavings):
    def scenario():
        counter = Counter()
        threads = [threading.Thread(target=counter.add) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counter.value == 2

    result = interleavings.explore(scenario, strategy="dfs", preemption_bound=2)
    assert result.schedules_run >= 1


@pytest.mark.interleavings(strategy="random", runs=20, seed=1)
def test_interleavings_marker():
    counter = Counter()
    thread = threading.Thread(target=counter.add)
    thread.start()
    counter.add()
    thread.join()
    assert counter.value == 2


class TestSingleFlight(SingleFlightContract):
    def make_subject(self):
        return SingleFlight()
