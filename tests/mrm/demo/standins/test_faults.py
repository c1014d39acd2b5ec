"""Injected faults: taken by the requests they match, in the order injected, each as often as asked."""

from __future__ import annotations

import threading
import time

from mrm.demo.standins.faults import Fault, Faults


def test_a_fault_is_taken_by_matching_requests_as_many_times_as_injected():
    faults = Faults()
    faults.add(Fault(503, times=2, match="POST /issue"))
    assert faults.take("GET /issue/MRM-1") is None
    assert [faults.take("POST /issue").status for _ in range(2)] == [503, 503]
    assert faults.take("POST /issue") is None


def test_faults_are_taken_first_injected_first():
    faults = Faults()
    faults.add(Fault(429, retry_after=2))
    faults.add(Fault("hang"))
    assert [f.status for f in (faults.take(), faults.take())] == [429, "hang"]
    assert faults.take() is None


def test_a_hang_ends_when_the_stand_in_releases_it():
    faults = Faults()
    hanging = threading.Thread(target=faults.hang, args=(Fault("hang", hang_seconds=30),))
    started = time.monotonic()
    hanging.start()
    time.sleep(0.1)
    faults.release()
    hanging.join(5)
    assert not hanging.is_alive() and time.monotonic() - started < 5
