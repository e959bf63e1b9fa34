"""The package version, in a module of its own so every layer can read it without the public namespace."""

__version__ = "0.1.0"
