"""Checkpoints of finished cells as data: JSON and ``.npz`` (no pickles), never code.

An output directory may come from anywhere (a colleague's run, a download), so ``--resume``
must not execute anything found in it.  A cell's outcome is written as two files under
``OUT/cells/<claim>/``:

* ``<sha1(key)>.npz`` -- the outcome's numpy arrays and numpy scalars (``numpy.savez``), read
  back with ``allow_pickle=False`` (an object array is refused, never unpickled); absent when
  the outcome holds none;
* ``<sha1(key)>.json`` -- the cell's key, seed and params, the package version, the outcome as
  a JSON tree whose arrays point into the ``.npz``, and the SHA-256 of both (the tree, then the
  ``.npz`` bytes).

The ``.npz`` is written first and the ``.json`` last, each through a temporary file and
:func:`os.replace`: a checkpoint is complete or absent.  A checkpoint is reused only if it
parses, its schema, key, seed, params and package version match the cell, its hash matches
and every node decodes; anything else (a pickle, a truncated file, an object array, an
unknown tag) is treated as corrupt and the cell is recomputed.

The encoding is exact: :func:`decode` of :func:`encode` equals the original, types included
(a tuple stays a tuple, a numpy array keeps its dtype and shape, a ``numpy.float64`` stays one,
dict keys keep their types and order).  JSON nodes:

=====================  ===============================================
``None``, bool, int,   themselves (Python floats round-trip through
str, finite float      JSON's shortest repr)
list                   a JSON list of nodes
dict with str keys     a JSON object of nodes (no key starting with ``$``)
``{"$f": "nan"}``      a non-finite float (``"nan"``, ``"inf"``, ``"-inf"``)
``{"$t": [...]}``      a tuple
``{"$d": [[k, v]..]}`` any other dict (keys are nodes)
``{"$a": "a3"}``       numpy array ``a3`` of the ``.npz``
``{"$s": "a4"}``       numpy scalar: 0-d array ``a4`` of the ``.npz``
=====================  ===============================================

Anything else (an object of a class, bytes, an object array) cannot be encoded:
:class:`UnencodableOutcome`; such a cell runs but is not checkpointed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__

__all__ = [
    "CHECKPOINT_SCHEMA",
    "OutputNotWritten",
    "UnencodableOutcome",
    "encode",
    "decode",
    "write_atomic",
    "CheckpointFiles",
]

CHECKPOINT_SCHEMA = "diffapprox.cell/1"

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class UnencodableOutcome(TypeError):
    """A cell outcome holds a value the checkpoint format cannot store as data."""


class _CorruptCheckpoint(ValueError):
    """A checkpoint that does not decode (recomputed, never reported as an error)."""


def encode(obj: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """``obj`` as ``(JSON tree, {name: array})`` (see the module docstring); raises :class:`UnencodableOutcome`."""
    arrays: dict[str, np.ndarray] = {}

    def put(a: np.ndarray) -> str:
        if a.dtype.hasobject:
            raise UnencodableOutcome(f"numpy array of dtype {a.dtype} (holds Python objects)")
        name = f"a{len(arrays)}"
        arrays[name] = a
        return name

    def enc(x: Any, where: str) -> Any:
        t = type(x)
        if x is None or t in (bool, int, str):
            return x
        if t is float:
            if math.isfinite(x):
                return x
            return {"$f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
        if t is list:
            return [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if t is tuple:
            return {"$t": [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if t is dict:
            if all(type(k) is str and not k.startswith("$") for k in x):
                return {k: enc(v, f"{where}[{k!r}]") for k, v in x.items()}
            return {"$d": [[enc(k, f"{where} key"), enc(v, f"{where}[{k!r}]")] for k, v in x.items()]}
        if t is np.ndarray:
            return {"$a": put(x)}
        if isinstance(x, np.generic) and not isinstance(x, np.object_):
            return {"$s": put(np.asarray(x))}
        raise UnencodableOutcome(f"{where}: a {t.__module__}.{t.__qualname__} cannot be checkpointed as data")

    return enc(obj, "outcome"), arrays


def decode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The object :func:`encode` was given; raises ``ValueError`` on anything it would not write."""

    def arr(name: Any) -> np.ndarray:
        if type(name) is not str or name not in arrays:
            raise _CorruptCheckpoint(f"unknown array {name!r}")
        return arrays[name]

    def dec(x: Any) -> Any:
        t = type(x)
        if x is None or t in (bool, int, str, float):
            return x
        if t is list:
            return [dec(v) for v in x]
        if t is not dict:
            raise _CorruptCheckpoint(f"unexpected JSON node {t.__name__}")
        tags = [k for k in x if k.startswith("$")]
        if not tags:
            return {k: dec(v) for k, v in x.items()}
        if len(x) != 1:
            raise _CorruptCheckpoint(f"malformed node {sorted(x)}")
        tag, v = tags[0], x[tags[0]]
        if tag == "$f" and v in _NONFINITE:
            return _NONFINITE[v]
        if tag == "$t" and type(v) is list:
            return tuple(dec(e) for e in v)
        if tag == "$d" and type(v) is list and all(type(p) is list and len(p) == 2 for p in v):
            return {dec(k): dec(e) for k, e in v}
        if tag == "$a":
            return arr(v).copy()
        if tag == "$s":
            a = arr(v)
            if a.ndim != 0:
                raise _CorruptCheckpoint("a numpy scalar stored with a shape")
            return a[()]
        raise _CorruptCheckpoint(f"unknown tag {tag}")

    return dec(tree)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and :func:`os.replace`.

    A reader sees the old file or the new one, never half of one; on any error (a full disk
    included) the temporary file is removed and the error propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(tree_text: bytes, npz: bytes | None) -> str:
    h = hashlib.sha256(tree_text)
    h.update(b"\0")
    if npz is not None:
        h.update(npz)
    return h.hexdigest()


def _tree_text(tree: Any) -> bytes:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class CheckpointFiles:
    """The checkpoint of one cell: ``stem.json`` and, when it holds arrays, ``stem.npz``.

    Parameters
    ----------
    stem : Path
        ``OUT/cells/<claim>/<sha1(key)>`` (no suffix).
    ident : dict
        What the checkpoint must match to be reused: ``key``, ``seed``, ``params`` (their repr).
    """

    def __init__(self, stem: Path, ident: dict):
        self.stem = Path(stem)
        self.ident = {**ident, "diffapprox": __version__}

    @property
    def json_path(self) -> Path:
        return self.stem.with_suffix(".json")

    @property
    def npz_path(self) -> Path:
        return self.stem.with_suffix(".npz")

    def save(self, outcome: Any) -> None:
        """Write the checkpoint (``.npz`` first, ``.json`` last); raises :class:`UnencodableOutcome` before writing."""
        tree, arrays = encode(outcome)
        npz = None
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            npz = buf.getvalue()
        text = _tree_text(tree)
        doc = {
            "schema": CHECKPOINT_SCHEMA,
            **self.ident,
            "arrays": npz is not None,
            "sha256": _digest(text, npz),
            "outcome": tree,
        }
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        if npz is not None:
            write_atomic(self.npz_path, npz)
        write_atomic(self.json_path, (json.dumps(doc, allow_nan=False) + "\n").encode())

    def load(self) -> Any | None:
        """The stored outcome, or ``None`` when absent, stale (another cell, seed or version) or corrupt."""
        try:
            raw = self.json_path.read_bytes()
        except OSError:
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("schema") != CHECKPOINT_SCHEMA:
                return None
            if any(doc.get(k) != v for k, v in self.ident.items()):
                return None
            tree, npz = doc["outcome"], None
            if doc.get("arrays") is True:
                npz = self.npz_path.read_bytes()
            if doc.get("sha256") != _digest(_tree_text(tree), npz):
                return None
            arrays = {}
            if npz is not None:
                with np.load(io.BytesIO(npz), allow_pickle=False) as z:
                    arrays = {name: z[name] for name in z.files}
            return decode(tree, arrays)
        except (OSError, ValueError, KeyError, TypeError, EOFError):  # a corrupt checkpoint is recomputed
            return None


class OutputNotWritten(Exception):
    """An output file (a checkpoint, results, a report) could not be written, e.g. the disk is full.

    Raised instead of the :class:`OSError` so the command line can name ``path`` in one line and
    exit with its own code; whatever was written before is intact (every write is atomic).
    """

    def __init__(self, path: Path | str, exc: OSError):
        self.path = Path(path)
        self.reason = exc.strerror or str(exc)
        super().__init__(f"could not write {self.path}: {self.reason}")
