"""`python -m pipeline ROLE…`."""

import sys

from pipeline.runner import UnknownRole, main

try:
    main(sys.argv[1:])
except UnknownRole as exc:
    sys.exit(str(exc))
