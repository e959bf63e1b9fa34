"""The built-in claims, installed under the import name ``diffapprox_claims``.

The folder is ``validation/`` in the source tree; ``pyproject.toml`` maps it to the package
``diffapprox_claims`` (a name no user project has), with one subpackage per family:

* ``paper/`` -- the claims about the paper (Liu, Li, Shi, Zhou, Zhao), one module each;
* ``literature/`` -- other papers' approximations (SMEs, SVAG, exit times, stationary covariances);
* ``toolkit/`` -- checks of the toolkit's own models and rules.

Helpers live beside the claims that use them (``_common`` is shared by every family).  Claims are
found through the ``diffapprox.claims`` entry points listed in ``pyproject.toml`` (in the order of
the reports): to add one, write ``validation/<family>/<name>.py`` and add
``"<claim-id>" = "diffapprox_claims.<family>.<name>:<ClassName>"`` there.  Importing this package
runs nothing.
"""
