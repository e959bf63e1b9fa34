"""``python -m diffapprox``: the ``diffapprox`` command."""

import sys

from diffapprox.cli import main

if __name__ == "__main__":
    sys.exit(main())
