"""``python -m asyncsgd``: the same command line as ``asyncsgd``."""

import sys

from asyncsgd.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
