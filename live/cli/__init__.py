"""The `live` command and `live demo`."""

import os
import signal
import sys

if os.path.basename(sys.argv[0] if sys.argv else "") == "live":
    # Run as the `live` command: a Ctrl-C while its modules are still importing (about a
    # second) quits quietly like a Ctrl-C later in start-up; `main` hands SIGINT back to
    # Python's own handler. Imported by anything else (the tests), nothing is changed.
    signal.signal(signal.SIGINT, lambda _signum, _frame: sys.exit(0))
