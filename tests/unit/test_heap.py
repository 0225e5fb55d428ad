"""Long-lived roles move what startup built out of the collector's full passes."""

from __future__ import annotations

import gc

from hub.heap import YOUNG_THRESHOLD, settle_after_startup


def _walked(obj: object) -> bool:
    """Whether a full collection would walk ``obj`` (frozen objects are not listed)."""
    return any(o is obj for o in gc.get_objects())


def test_settling_freezes_startup_objects_out_of_full_passes() -> None:
    before = gc.get_threshold()
    startup_state = {"connectors": [{"n": n} for n in range(1000)]}
    try:
        assert _walked(startup_state)
        settle_after_startup()
        assert not _walked(startup_state)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        made_later = {"request": [1]}
        assert _walked(made_later)  # what requests make is still collected as usual
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
