"""The one seed derivation: every seed in the project is ``derive_seed(master, *labels)``.

A seed depends only on the master seed and the labels naming what it is for (claim id, cell
key, a bootstrap's name, a calibration replicate), never on the order in which work runs, so
results do not depend on the executor, the chunking or the thread count.
"""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed"]


def derive_seed(seed: int, *labels: object) -> int:
    """A 63-bit seed from ``seed`` and ``labels``: the first 8 bytes of sha256 of ``"seed|label|..."``.

    Parameters
    ----------
    seed : int
        The master seed (any Python int).
    *labels
        What the seed is for, e.g. ``("ou-optimum", "law=gaussian/mu=0.5")``; each is written with
        ``str``, so pass stable values (ids, keys, integers), not floats with platform-dependent text.

    Returns
    -------
    int
        In ``[0, 2**63)``.
    """
    text = "|".join([str(int(seed)), *(str(x) for x in labels)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
