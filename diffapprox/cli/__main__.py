"""``python -m diffapprox.cli``: the same as the ``diffapprox`` command."""

from . import main

raise SystemExit(main())
