"""The console script's entry (and `python -m tlsprobe`'s): the command's modules are loaded
with the cyclic garbage collector paused, then frozen out of its sight.

Why: loading them allocates some 100,000 objects that live as long as the process does (modules,
functions, classes, enums). With Python's default threshold the collector ran about 40 times
while they loaded, walking every young one each time, and later collections walked them again:
together about a tenth of a one-target run's start-up (counted with gc.callbacks, and in
instructions with callgrind). Frozen (gc.freeze), they are never walked again. Nothing they hold
is garbage, so pausing the collector while they load frees nothing later.
"""

from __future__ import annotations

import gc


def main() -> int:
    paused = gc.isenabled()
    gc.disable()
    try:
        from tlsprobe.cli import main as command
    finally:
        if paused:
            gc.enable()
    gc.freeze()
    return command()
