"""Keep the garbage collector's full passes off the request path of long-lived roles.

A web or worker process holds ~120,000 objects once it has loaded its settings, the
schema, the connectors and Flask, and CPython's full (generation 2) collection walks
all of them: 20-70 ms on this project's 2-CPU machine, landing on whatever pop or
lookup is in flight (they were most of the pop p99). Everything built at startup lives
as long as the process, so it is moved to the permanent generation
(:func:`gc.freeze`, as the CPython docs advise for servers), and the young
generation's threshold is raised so short-lived request garbage is collected in
fewer, still-cheap passes. Reference counting still frees almost everything at once;
this only changes how often the cycle finder looks, and at what.
"""

from __future__ import annotations

import gc

#: Allocations between young-generation passes (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Collect what startup left behind, then freeze the survivors."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
