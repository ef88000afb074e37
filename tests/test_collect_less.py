"""runner.collect_less: the garbage collector's threshold during a command-line run, and as it
was afterwards, whichever way the block ends."""

from __future__ import annotations

import gc

import pytest

from tlsprobe.runner import RUN_GC_THRESHOLD, collect_less


def test_the_threshold_is_raised_inside_and_restored_after() -> None:
    """Inside the block the youngest generation waits for RUN_GC_THRESHOLD allocations (the
    older generations as they were); after it, the thresholds are exactly as before."""
    before = gc.get_threshold()
    with collect_less():
        assert gc.get_threshold() == (RUN_GC_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_the_threshold_is_restored_when_the_block_raises() -> None:
    """A run interrupted by an exception (Ctrl-C reaches here as KeyboardInterrupt) still
    leaves the collector as it found it."""
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), collect_less():
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
