"""The claims: one module per claim, each a :class:`diffapprox.Claim` subclass.

They are found through the ``diffapprox.claims`` entry points listed in ``pyproject.toml``
(in the order of the reports): to add a claim, write ``validation/<name>.py`` and add
``"<claim-id>" = "validation.<name>:<ClassName>"`` there.  Importing this package runs nothing.
"""
