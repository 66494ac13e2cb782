"""`python -m ovep`: the ``ovep`` command (see ovep.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
