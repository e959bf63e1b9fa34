"""CPU seconds of the dnn-tradeoff training: one model at a time against batched ensembles.

Three ways to train B MLPs 64-64-64-10 on digits by Async-MSGD, one thread, CPU seconds per
model and epoch (``time.process_time``):

* ``one``: :func:`diffapprox.train_async_msgd`, one model through ``torch.autograd`` (the
  reference, and the claim's path before its version 3);
* ``ensemble``: :func:`diffapprox.train_async_msgd_ensemble` with B = 15, 20, 35 (the claim's
  cells hold 15 or 20 runs), batched matrix products and a hand-written gradient;
* ``vmap``: the gradient step alone by ``torch.func.vmap(torch.func.grad(...))`` over stacked
  parameters (``torch.func.stack_module_state``), timed against the ensemble's own gradient step
  on the same inputs, to show which of the two batched forms is faster on one thread.

Each timed call follows a warm-up call.  It asserts nothing about time: other work on the
machine moves these numbers; the ratios are measured side by side.

Usage::

    python benchmarks/dnn.py [--epochs 6] [--reps 3] [--sizes 15,20,35]
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

DELAYS = ("const:0", "const:1", "const:3", "const:7", "workers:2", "workers:4", "workers:8")
MOMENTA = (0.1, 0.3, 0.5, 0.7, 0.9)


def _configs(b: int, epochs: int):
    from diffapprox.engine import TrainConfig

    grid = [(d, mu) for d in DELAYS for mu in MOMENTA]
    return [TrainConfig(momentum=mu, delay=d, epochs=epochs) for d, mu in grid[:b]]


def _best_cpu(fn, reps: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return min(out)


def time_training(epochs: int, reps: int, sizes: list[int]) -> dict:
    """CPU seconds per model and epoch of the one-model trainer and of ensembles of each size."""
    from diffapprox.engine import train_async_msgd, train_async_msgd_ensemble

    cfgs = _configs(max(sizes), epochs)
    out = {"one": _best_cpu(lambda: [train_async_msgd(c, 1) for c in cfgs[:3]], reps) / (3 * epochs)}
    for b in sizes:
        run = functools.partial(train_async_msgd_ensemble, cfgs[:b], [1] * b)
        out[f"ensemble B={b}"] = _best_cpu(run, reps) / (b * epochs)
    return out


def time_gradient_step(b: int, reps: int, steps: int = 50) -> dict:
    """CPU seconds of one gradient step of B models: the hand-written batched gradient against vmap(grad)."""
    import torch
    from torch.func import functional_call, grad, stack_module_state, vmap

    from diffapprox._experiments import dnn

    torch.set_num_threads(1)
    layout, p = dnn._padded_layout([64, 64, 64, 10])
    models = [dnn._build_mlp(torch, (64, 64), 64, 10) for _ in range(b)]
    params, buffers = stack_module_state(models)
    rows = dnn._ensemble_start(torch, _configs(b, 1), list(range(b)), [64, 64, 64, 10], layout, p)
    gen = torch.Generator().manual_seed(0)
    xb, yb = torch.randn(b, 32, 64, generator=gen), torch.randint(0, 10, (b, 32), generator=gen)
    g = torch.zeros(b, p)

    def loss(par, buf, x, y):
        return torch.nn.functional.cross_entropy(functional_call(models[0], (par, buf), (x,)), y)

    vgrad = vmap(grad(loss), in_dims=(0, 0, 0, 0))

    def hand():
        with torch.no_grad():
            for _ in range(steps):
                zs, hs = dnn._ensemble_forward(torch, rows, xb, layout)
                dnn._ensemble_gradient(torch, rows, zs, hs, yb, layout, g)

    def func():
        for _ in range(steps):
            vgrad(params, buffers, xb, yb)

    return {"hand-written": _best_cpu(hand, reps) / (b * steps), "vmap(grad)": _best_cpu(func, reps) / (b * steps)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="15,20,35")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    train = time_training(a.epochs, a.reps, sizes)
    print(f"training, CPU ms per model and epoch ({a.epochs} epochs, best of {a.reps}):")
    for k, v in train.items():
        print(f"  {k:16s} {1e3 * v:8.2f}   one / this = {train['one'] / v:5.1f}")
    for b in sizes:
        step = time_gradient_step(b, a.reps)
        print(f"gradient step, B={b}, CPU us per model: " + ", ".join(f"{k} {1e6 * v:.1f}" for k, v in step.items()))
    print("ratio vmap / hand-written:", np.round(step["vmap(grad)"] / step["hand-written"], 2))


if __name__ == "__main__":
    main()
