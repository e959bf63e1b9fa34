"""Async-MSGD on a small real network with simulated staleness (paper Section 5.2, Figure 2).

The paper trains a SphereResNet34 on CIFAR-100 with 1 to 8 asynchronous workers
sharing one parameter server.  Here the same algorithm runs on a laptop: a small
multilayer perceptron on scikit-learn's bundled *digits* data (1,797 8x8 images,
10 classes; nothing is downloaded), with the workers simulated by staleness.

The update is the paper's eq. (1.3)/(2.1) with a stale gradient, on the flat
parameter vector ``x`` (``torch.nn.utils.parameters_to_vector``)::

    x_{k+1} = x_k + mu (x_k - x_{k-1}) - eta_k * grad f_{B_k}(x_{k - tau_k})

* ``tau_k`` comes from the engine's delay laws (:func:`diffapprox.delay_law`):
  ``const:M-1`` is M workers served round-robin, ``workers:M`` is M workers with
  exponential compute times (the staleness of the queue, from its start).
* There is **one momentum buffer, on the server** (the term ``mu (x_k - x_{k-1})``
  uses the server's last two iterates); workers only compute gradients at the
  parameters they read ``tau_k`` updates ago.  A ring buffer keeps the last
  ``cap + 1`` parameter vectors; histories are ``x_{-i} = x_0`` (Theorem 3.3).
* ``eta`` and ``mu`` are independent, as in the paper (the effective step of the
  heavy ball is ``eta / (1 - mu)``; it is *not* normalised away).
* ``eta_k`` is the paper's schedule scaled to the run: initial 0.2, times 0.2 after
  30%, 60% and 80% of the steps (the paper: after 60, 120, 160 of 200 epochs).

Torch is imported inside the functions only: the core package never needs it.
Install it with ``pip install 'diffapprox[dnn]'`` (``torch==2.13.0`` CPU and
scikit-learn).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from .._core.errors import DiffapproxError, check_int, check_range
from .._engine.laws import delay_law

__all__ = [
    "DNN_EXTRA_HINT",
    "TrainConfig",
    "digits_split",
    "lr_schedule",
    "mlp_description",
    "train_async_msgd",
]

#: What to tell a user who lacks the optional dependencies.
DNN_EXTRA_HINT = (
    "needs the optional 'dnn' extra (PyTorch CPU and scikit-learn): "
    "pip install 'diffapprox[dnn]'   (or: pip install torch==2.13.0 scikit-learn)"
)

#: Training loss above which a run counts as diverged (and is stopped).
DIVERGENCE_LOSS = 1e4


def _import_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised via monkeypatch in tests
        raise ImportError(f"the neural-network experiment {DNN_EXTRA_HINT}") from exc
    return torch


@functools.lru_cache(maxsize=4)
def _digits_split_cached(val_fraction: float, split_seed: int):
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(f"the neural-network experiment {DNN_EXTRA_HINT}") from exc
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32) / 16.0  # pixel intensities 0..16 -> [0, 1]
    y = y.astype(np.int64)
    # Stratified split with a fixed seed, independent of the training seeds (the paper
    # also keeps one fixed train/test split of CIFAR-100).
    rng = np.random.default_rng(split_seed)
    tr, va = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_va = int(round(val_fraction * idx.size))
        va.append(idx[:n_va])
        tr.append(idx[n_va:])
    tr = np.sort(np.concatenate(tr))
    va = np.sort(np.concatenate(va))
    mean = X[tr].mean(axis=0)  # centre by the training mean only
    Xtr, Xva = X[tr] - mean, X[va] - mean
    for a in (Xtr, Xva, y):
        a.setflags(write=False)
    return Xtr, y[tr].copy(), Xva, y[va].copy()


def digits_split(val_fraction: float = 0.25, split_seed: int = 0):
    """scikit-learn's bundled digits, split into training and validation sets.

    Returns
    -------
    X_train : ndarray, shape (n_train, 64), float32
        Pixels scaled to [0, 1] and centred by the training mean.
    y_train : ndarray, shape (n_train,), int64
    X_val : ndarray, shape (n_val, 64), float32
    y_val : ndarray, shape (n_val,), int64
        With the defaults: 1,347 training and 450 validation images, stratified by class.
    """
    check_range("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    return _digits_split_cached(float(val_fraction), int(split_seed))


def lr_schedule(lr: float, total_steps: int, decay_at=(0.3, 0.6, 0.8), factor: float = 0.2) -> np.ndarray:
    """Step sizes ``eta_k``, k = 0..total_steps-1: ``lr``, times ``factor`` after each fraction in ``decay_at``.

    The paper (Section 5.2): 0.2, decreased by a factor 0.2 after 60, 120 and 160 of
    200 epochs, i.e. after 30%, 60% and 80% of training.
    """
    k = np.arange(total_steps)
    n_decays = np.zeros(total_steps, dtype=np.int64)
    for f in decay_at:
        n_decays += k >= int(round(f * total_steps))
    return lr * factor**n_decays


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """One Async-MSGD training run.

    Attributes
    ----------
    momentum : float
        ``mu`` in [0, 1).
    delay : str
        Delay law spec (``const:3``, ``workers:4``, ...).
    epochs : int
        Passes over the training set (each step draws one minibatch; the last
        incomplete batch of an epoch is dropped).
    lr : float
        Initial step size ``eta`` (paper: 0.2).
    batch_size : int
    hidden : tuple of int
        Widths of the hidden ReLU layers of the MLP.
    decay_at : tuple of float
        Fractions of the run after which ``eta`` is multiplied by ``decay_factor``.
    decay_factor : float
    """

    momentum: float
    delay: str
    epochs: int
    lr: float = 0.2
    batch_size: int = 32
    hidden: tuple[int, ...] = (64, 64)
    decay_at: tuple[float, ...] = (0.3, 0.6, 0.8)
    decay_factor: float = 0.2

    def __post_init__(self) -> None:
        check_range("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        object.__setattr__(self, "delay", delay_law(self.delay).spec)
        check_int("epochs", self.epochs, 1)
        check_range("lr", self.lr, 0.0, lo_open=True)
        check_int("batch_size", self.batch_size, 1)
        if not self.hidden or any(check_int("hidden", h, 1) != h for h in self.hidden):
            raise DiffapproxError("hidden", "a non-empty tuple of positive integers", self.hidden)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        for f in self.decay_at:
            check_range("decay_at", f, 0.0, 1.0)
        check_range("decay_factor", self.decay_factor, 0.0, 1.0, lo_open=True)


def mlp_description(hidden=(64, 64), n_in: int = 64, n_out: int = 10) -> dict:
    """Name and parameter count of the MLP ``n_in - hidden... - n_out`` (ReLU), without torch."""
    widths = [n_in, *hidden, n_out]
    n = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    return {
        "name": "MLP " + "-".join(str(w) for w in widths) + " (ReLU, cross-entropy)",
        "parameters": int(n),
    }


def _build_mlp(torch, hidden, n_in, n_out):
    layers = []
    prev = n_in
    for h in hidden:
        layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
        prev = h
    layers.append(torch.nn.Linear(prev, n_out))
    return torch.nn.Sequential(*layers)


class _TorchSettings:
    """Fix threads and deterministic algorithms for one run, then restore them."""

    def __init__(self, torch, threads: int):
        self.torch, self.threads = torch, threads

    def __enter__(self):
        t = self.torch
        self.old = (t.get_num_threads(), t.are_deterministic_algorithms_enabled())
        t.set_num_threads(self.threads)
        t.use_deterministic_algorithms(True)
        return self

    def __exit__(self, *exc):
        t = self.torch
        t.set_num_threads(self.old[0])
        t.use_deterministic_algorithms(self.old[1])
        return False


def train_async_msgd(
    config: TrainConfig,
    seed: int,
    *,
    threads: int = 1,
    record_every_epoch: bool = True,
    return_parameters: bool = False,
) -> dict:
    """Train the MLP on digits by Async-MSGD with simulated staleness; return a summary.

    Parameters
    ----------
    config : TrainConfig
    seed : int
        Seeds everything: ``torch.manual_seed(seed)`` draws the initial weights (PyTorch's
        default ``nn.Linear`` initialisation); ``SeedSequence([seed, 1])`` the minibatch
        order; ``SeedSequence([seed, 2])`` the delays.  Runs with the same seed share the
        initialisation and the batches whatever ``momentum`` is (common random numbers),
        and with the same delay law also the delays.
    threads : int
        ``torch.set_num_threads`` for the run (restored afterwards).
    record_every_epoch : bool
        Evaluate the validation accuracy after every epoch (``val_acc_epochs``).
    return_parameters : bool
        Add ``parameters``, the final flat parameter vector (ndarray, float32), for tests.

    Returns
    -------
    dict
        ``val_acc`` (final iterate), ``val_loss``, ``train_loss`` (mean over the last
        epoch's minibatches, at the stale parameters the gradients used), ``diverged``
        (loss non-finite or above :data:`DIVERGENCE_LOSS`; the run stops and scores the
        accuracy of the best constant predictor), ``steps``, ``mean_delay`` and
        ``max_delay`` actually applied, ``val_acc_epochs`` (per epoch), ``n_parameters``,
        ``elapsed_s``.
    """
    torch = _import_torch()
    if not isinstance(config, TrainConfig):
        raise DiffapproxError("config", "a TrainConfig", type(config).__name__)
    seed = check_int("seed", seed, 0)
    t0 = time.perf_counter()
    Xtr, ytr, Xva, yva = digits_split()
    n_train = Xtr.shape[0]
    spe = n_train // config.batch_size
    if spe < 1:
        raise DiffapproxError("batch_size", f"at most {n_train} (the training set)", config.batch_size)
    n_steps = spe * config.epochs
    law = delay_law(config.delay)
    taus = law.sample(n_steps, np.random.default_rng(np.random.SeedSequence([seed, 2])))
    batch_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    order = np.concatenate([batch_rng.permutation(n_train)[: spe * config.batch_size] for _ in range(config.epochs)])
    order = order.reshape(n_steps, config.batch_size)
    etas = lr_schedule(config.lr, n_steps, config.decay_at, config.decay_factor)
    mu = float(config.momentum)
    chance = float(np.bincount(yva).max() / yva.size)

    with _TorchSettings(torch, threads):
        torch.manual_seed(seed)
        model = _build_mlp(torch, config.hidden, Xtr.shape[1], int(ytr.max()) + 1)
        params = list(model.parameters())
        vec_to = torch.nn.utils.vector_to_parameters
        to_vec = torch.nn.utils.parameters_to_vector
        loss_fn = torch.nn.functional.cross_entropy
        Xt, yt = torch.from_numpy(np.array(Xtr)), torch.from_numpy(np.array(ytr))
        Xv, yv = torch.from_numpy(np.array(Xva)), torch.from_numpy(np.array(yva))

        with torch.no_grad():
            x = to_vec(params).detach().clone()
        n_par = x.numel()
        L = int(min(law.cap, n_steps)) + 1  # ring buffer of the last L iterates, x_{-i} = x_0
        ring = x.unsqueeze(0).repeat(L, 1)
        x_prev = x.clone()

        def evaluate(vec):
            with torch.no_grad():
                vec_to(vec, params)
                out = model(Xv)
                return float((out.argmax(1) == yv).double().mean()), float(loss_fn(out, yv))

        diverged = False
        losses_epoch = []
        val_acc_epochs = []
        last_epoch_loss = float("nan")
        for k in range(n_steps):
            # x_{k-tau} with x_{-i} = x_0; k - tau >= k - (L - 1) stays within the ring's last L iterates
            stale = ring[(k - min(int(taus[k]), k)) % L]
            vec_to(stale, params)
            for p in params:
                p.grad = None
            idx = torch.from_numpy(order[k])
            loss = loss_fn(model(Xt[idx]), yt[idx])
            lv = float(loss.detach())
            if not np.isfinite(lv) or lv > DIVERGENCE_LOSS:
                diverged = True
                break
            loss.backward()
            with torch.no_grad():
                g = to_vec([p.grad for p in params])
                x_new = x + mu * (x - x_prev) - float(etas[k]) * g
            x_prev, x = x, x_new
            ring[(k + 1) % L] = x
            losses_epoch.append(lv)
            if (k + 1) % spe == 0:
                last_epoch_loss = float(np.mean(losses_epoch))
                losses_epoch = []
                if record_every_epoch:
                    val_acc_epochs.append(evaluate(x)[0] if bool(torch.isfinite(x).all()) else chance)
        if diverged or not bool(torch.isfinite(x).all()):
            diverged = True
            val_acc, val_loss = chance, float("nan")
        else:
            val_acc, val_loss = evaluate(x)
    applied = taus[: k + 1]
    extra = {"parameters": x.detach().numpy().copy()} if return_parameters else {}
    return extra | {
        "val_acc": val_acc,
        "val_loss": val_loss,
        "train_loss": last_epoch_loss,
        "diverged": diverged,
        "steps": int(n_steps),
        "steps_done": int(k + 1 - diverged),
        "mean_delay": float(applied.mean()),
        "max_delay": int(applied.max()),
        "val_acc_epochs": np.array(val_acc_epochs, dtype=float),
        "n_parameters": int(n_par),
        "elapsed_s": time.perf_counter() - t0,
    }
