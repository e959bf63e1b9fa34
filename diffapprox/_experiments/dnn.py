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

:func:`train_async_msgd_ensemble` trains many such networks at once (the claim's path): each
model keeps its own seed, minibatch order, momentum, delays and stale-parameter ring, and one
step of all of them is a handful of batched matrix products (``torch.baddbmm``/``torch.bmm``)
with the gradient of the cross-entropy written out by hand.  :func:`train_async_msgd`, one
model through ``torch.autograd``, is the reference it is tested against.

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
    "train_async_msgd_ensemble",
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


# ----------------------------------------------------------------------------- batched ensemble

#: Floats per alignment block (64 bytes): every model's parameter row and every layer block in
#: it starts on a 64-byte boundary, so that a model's matrix products see the same memory
#: alignment whatever its position in the ensemble (MKL's results may depend on alignment).
_ALIGN = 16


def _round_up(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _padded_layout(widths: list[int]) -> tuple[list[tuple[int, int, int, int]], int]:
    """(weight offset, bias offset, n_out, n_in) per layer in the padded parameter row, and the row length."""
    out, off = [], 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        w_off = off
        b_off = _round_up(w_off + n_out * n_in)
        off = _round_up(b_off + n_out)
        out.append((w_off, b_off, n_out, n_in))
    return out, off


def _check_ensemble(configs, seeds) -> tuple[list[TrainConfig], list[int]]:
    configs, seeds = list(configs), list(seeds)
    if not configs or not all(isinstance(c, TrainConfig) for c in configs):
        raise DiffapproxError("configs", "a non-empty sequence of TrainConfig", configs)
    if len(seeds) != len(configs):
        raise DiffapproxError("seeds", f"one seed per config ({len(configs)})", len(seeds))
    seeds = [check_int("seeds", s, 0) for s in seeds]
    shape = {(c.epochs, c.batch_size, c.hidden) for c in configs}
    if len(shape) != 1:
        raise DiffapproxError("configs", "one (epochs, batch_size, hidden) for every model", sorted(shape))
    return configs, seeds


def _ensemble_forward(torch, rows, h, layout):
    """Pre-activations of every layer for B models at once: rows (B, P) padded parameters, h (B, n, n_in)."""
    B = rows.shape[0]
    zs, hs = [], [h]
    for li, (w_off, b_off, n_out, n_in) in enumerate(layout):
        W = rows[:, w_off : w_off + n_out * n_in].view(B, n_out, n_in)
        z = torch.bmm(hs[-1], W.transpose(1, 2)).add_(rows[:, b_off : b_off + n_out].unsqueeze(1))
        zs.append(z)
        if li < len(layout) - 1:
            hs.append(torch.relu(z))
    return zs, hs


def _ensemble_evaluate(torch, rows, layout, Xv, yv):
    """Validation accuracy (float64) and mean cross-entropy (float32) of B models, shape (B,) each."""
    B = rows.shape[0]
    logits = _ensemble_forward(torch, rows, Xv.expand(B, -1, -1).contiguous(), layout)[0][-1]
    acc = (logits.argmax(2) == yv).double().mean(1)
    nll = -torch.log_softmax(logits, dim=2).gather(2, yv.expand(B, -1).unsqueeze(2)).squeeze(2)
    return acc.numpy().copy(), nll.mean(1).double().numpy().copy()


def _ensemble_gradient(torch, rows, zs, hs, yb, layout, out):
    """Gradient of each model's mean cross-entropy at its rows, written into ``out`` (B, P); loss (B,).

    Backpropagation written out: with p = softmax(z_L), dL/dz_L = (p - onehot(y)) / n; for each
    layer dW = dz^T h_in, db = sum over the batch of dz, and dh_in = dz W masked by h_in > 0 (ReLU).
    """
    B, n = hs[0].shape[0], hs[0].shape[1]
    logp = torch.log_softmax(zs[-1], dim=2)
    nll = -logp.gather(2, yb.unsqueeze(2)).squeeze(2)
    d = torch.exp(logp)
    d.scatter_add_(2, yb.unsqueeze(2), torch.full((B, n, 1), -1.0))
    d.div_(n)
    ones = torch.ones(B, 1, n)
    for li in range(len(layout) - 1, -1, -1):
        w_off, b_off, n_out, n_in = layout[li]
        out[:, w_off : w_off + n_out * n_in].view(B, n_out, n_in).copy_(torch.bmm(d.transpose(1, 2), hs[li]))
        out[:, b_off : b_off + n_out].copy_(torch.bmm(ones, d).squeeze(1))
        if li > 0:
            W = rows[:, w_off : w_off + n_out * n_in].view(B, n_out, n_in)
            # ReLU's derivative as autograd applies it: zero where the layer's output is <= 0
            d = torch.ops.aten.threshold_backward(torch.bmm(d, W), hs[li], 0.0)
    return nll.mean(1)


def _ensemble_start(torch, configs, seeds, widths, layout, P):
    """Initial padded parameter rows (B, P): model b's weights as ``torch.manual_seed(seeds[b])`` draws them."""
    x0 = torch.zeros(len(configs), P)
    for b, (cfg, seed) in enumerate(zip(configs, seeds)):
        torch.manual_seed(seed)
        model = _build_mlp(torch, cfg.hidden, widths[0], widths[-1])
        ps = [p.detach() for p in model.parameters()]
        for (w_off, b_off, n_out, n_in), W, bias in zip(layout, ps[0::2], ps[1::2]):
            x0[b, w_off : w_off + n_out * n_in] = W.reshape(-1)
            x0[b, b_off : b_off + n_out] = bias
    return x0


def _unpad(x, layout) -> np.ndarray:
    """Padded rows (B, P) -> the flat vectors of ``parameters_to_vector`` (B, n_parameters)."""
    parts = []
    for w_off, b_off, n_out, n_in in layout:
        parts += [x[:, w_off : w_off + n_out * n_in], x[:, b_off : b_off + n_out]]
    return np.concatenate([p.numpy() for p in parts], axis=1)


def _ring_slots(taus: list[np.ndarray], n_steps: int):
    """Rows of the shared ring read (x_{k - tau_k}) and written (x_{k+1}) at step k, shape (n_steps, B) each.

    Model b owns ``L_b = min(cap_b, n_steps) + 1`` consecutive rows (its last L_b iterates; the
    ring starts filled with x_0, i.e. x_{-i} = x_0).
    """
    k = np.arange(n_steps)
    read, write, offsets = [], [], []
    off = 0
    for t, cap in taus:
        L = int(min(cap, n_steps)) + 1
        read.append(off + (k - np.minimum(t, k)) % L)
        write.append(off + (k + 1) % L)
        offsets.append((off, L))
        off += L
    return np.stack(read, axis=1), np.stack(write, axis=1), offsets


def train_async_msgd_ensemble(
    configs,
    seeds,
    *,
    threads: int = 1,
    record_every_epoch: bool = True,
    return_parameters: bool = False,
) -> list[dict]:
    """Train B MLPs on digits by Async-MSGD at once; model b is the run ``train_async_msgd(configs[b], seeds[b])``.

    Every model keeps its own initial weights, minibatch order, delays (all drawn from its seed as
    in :func:`train_async_msgd`), momentum, step sizes and ring of stale parameters; one step
    applies eq. (1.3)/(2.1) with a stale gradient to all of them::

        x^b_{k+1} = x^b_k + mu_b (x^b_k - x^b_{k-1}) - eta^b_k * grad f_{B^b_k}(x^b_{k - tau^b_k})

    with the gradients of all models from a few batched matrix products.  A model's results do not
    depend on the other models of the ensemble nor on their number (every operation acts on one
    model's slice, and every model's rows sit on the same memory alignment), nor, with one thread,
    on anything but its own config and seed.  They equal :func:`train_async_msgd`'s up to float32
    rounding: the batched products and the hand-written gradient sum in another order than
    ``torch.nn.Linear`` and autograd.

    Parameters
    ----------
    configs : sequence of TrainConfig, length B
        One per model; ``epochs``, ``batch_size`` and ``hidden`` must be equal across the models.
    seeds : sequence of int, length B
    threads, record_every_epoch, return_parameters
        As in :func:`train_async_msgd`.

    Returns
    -------
    list of dict
        Per model, the keys of :func:`train_async_msgd`; ``elapsed_s`` is the wall time of the
        whole ensemble.
    """
    torch = _import_torch()
    configs, seeds = _check_ensemble(configs, seeds)
    t0 = time.perf_counter()
    Xtr, ytr, Xva, yva = digits_split()
    cfg0 = configs[0]
    n_train, bs = Xtr.shape[0], cfg0.batch_size
    spe = n_train // bs
    if spe < 1:
        raise DiffapproxError("batch_size", f"at most {n_train} (the training set)", bs)
    n_steps, B = spe * cfg0.epochs, len(configs)
    taus = []
    for cfg, seed in zip(configs, seeds):
        law = delay_law(cfg.delay)
        taus.append((law.sample(n_steps, np.random.default_rng(np.random.SeedSequence([seed, 2]))), law.cap))
    read, write, ring_rows = _ring_slots(taus, n_steps)
    batch_rngs = [np.random.default_rng(np.random.SeedSequence([seed, 1])) for seed in seeds]
    etas = np.stack([lr_schedule(c.lr, n_steps, c.decay_at, c.decay_factor) for c in configs], axis=1)
    widths = [Xtr.shape[1], *cfg0.hidden, int(ytr.max()) + 1]
    layout, P = _padded_layout(widths)
    chance = float(np.bincount(yva).max() / yva.size)

    with _TorchSettings(torch, threads), torch.no_grad():
        x = _ensemble_start(torch, configs, seeds, widths, layout, P)
        x_prev = x.clone()
        ring = torch.cat([x[b : b + 1].expand(L, P) for b, (_, L) in enumerate(ring_rows)])
        read_t, write_t = torch.from_numpy(read), torch.from_numpy(write)
        etas_t = torch.from_numpy(etas.astype(np.float32)).unsqueeze(2)
        mus = torch.tensor([[c.momentum] for c in configs], dtype=torch.float32)
        Xt, yt = torch.from_numpy(np.array(Xtr)), torch.from_numpy(np.array(ytr))
        Xv, yv = torch.from_numpy(np.array(Xva)), torch.from_numpy(np.array(yva))
        g, spare, stale = torch.zeros(B, P), torch.empty(B, P), torch.empty(B, P)
        losses = torch.empty(n_steps, B)
        alive = torch.ones(B, 1, dtype=torch.bool)
        acc_epochs = []
        for k in range(n_steps):
            if k % spe == 0:  # each model's permutation of this epoch, from its own stream
                perms = [r.permutation(n_train)[: spe * bs].reshape(spe, bs) for r in batch_rngs]
                order = torch.from_numpy(np.stack(perms, axis=1))
            idx = order[k % spe]
            stale = torch.index_select(ring, 0, read_t[k], out=stale)
            zs, hs = _ensemble_forward(torch, stale, Xt[idx], layout)
            loss = _ensemble_gradient(torch, stale, zs, hs, yt[idx], layout, g)
            losses[k] = loss
            alive &= (torch.isfinite(loss) & (loss <= DIVERGENCE_LOSS)).unsqueeze(1)
            # x + mu (x - x_prev) - eta g, one rounding per operation as in train_async_msgd
            x_new = torch.sub(x, x_prev, out=spare).mul_(mus).add_(x).sub_(g.mul_(etas_t[k]))
            if not bool(alive.all()):
                x_new = torch.where(alive, x_new, x)  # a diverged model stays where it stopped
            # three (B, P) buffers in turn: no allocation of parameter-sized tensors in the loop
            spare, x_prev, x = x_prev, x, x_new
            ring.index_copy_(0, write_t[k], x)
            if record_every_epoch and (k + 1) % spe == 0:
                finite = torch.isfinite(x).all(dim=1).numpy()
                acc_epochs.append(np.where(finite, _ensemble_evaluate(torch, x, layout, Xv, yv)[0], chance))
        finite = torch.isfinite(x).all(dim=1).numpy()
        val_acc, val_loss = _ensemble_evaluate(torch, x, layout, Xv, yv)
    elapsed = time.perf_counter() - t0
    losses = losses.numpy()
    params = _unpad(x, layout) if return_parameters else None
    acc_epochs = np.array(acc_epochs, dtype=float).reshape(-1, B)
    n_par = int(sum(n_in * n_out + n_out for n_in, n_out in zip(widths[:-1], widths[1:])))
    out = []
    for b in range(B):
        bad = np.flatnonzero(~np.isfinite(losses[:, b]) | (losses[:, b] > DIVERGENCE_LOSS))
        k_end = int(bad[0]) if bad.size else n_steps - 1
        n_ep = (k_end if bad.size else n_steps) // spe  # epochs completed before a break
        diverged = bool(bad.size) or not bool(finite[b])
        ep_acc = acc_epochs[:n_ep, b].copy()
        applied = taus[b][0][: k_end + 1]
        extra = {"parameters": params[b].copy()} if return_parameters else {}
        out.append(
            extra
            | {
                "val_acc": chance if diverged else float(val_acc[b]),
                "val_loss": float("nan") if diverged else float(val_loss[b]),
                "train_loss": float(np.mean(losses[(n_ep - 1) * spe : n_ep * spe, b].astype(float)))
                if n_ep
                else float("nan"),
                "diverged": diverged,
                "steps": int(n_steps),
                "steps_done": int(k_end + 1 - diverged),
                "mean_delay": float(applied.mean()),
                "max_delay": int(applied.max()),
                "val_acc_epochs": ep_acc,
                "n_parameters": n_par,
                "elapsed_s": elapsed,
            }
        )
    return out
