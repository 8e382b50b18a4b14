"""The same model, data and loss trained in PyTorch and in MLX from identical
initial weights: the two loss curves side by side.

    python examples/port_from_pytorch.py --loss cross_entropy
    python examples/port_from_pytorch.py --loss huber --quick
    python examples/port_from_pytorch.py --plot curves.png   # needs matplotlib

Both sides use plain SGD in float32 on the same batches, so the curves agree
to float32 rounding as long as the loss (value and gradient) is the same.
Prints every step's two losses and, at the end, ``max relative difference: X``.
The script exits non-zero if that exceeds 1e-4.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

LOSSES = {
    # name: (mlx_losses Module, torch.nn Module, kwargs, task)
    "cross_entropy": ("CrossEntropyLoss", "CrossEntropyLoss", {"label_smoothing": 0.1}, "classes"),
    "nll": ("NLLLoss", "NLLLoss", {}, "log_probs"),
    "mse": ("MSELoss", "MSELoss", {}, "regression"),
    "l1": ("L1Loss", "L1Loss", {}, "regression"),
    "huber": ("HuberLoss", "HuberLoss", {"delta": 0.5}, "regression"),
    "smooth_l1": ("SmoothL1Loss", "SmoothL1Loss", {"beta": 0.5}, "regression"),
    "bce_with_logits": ("BCEWithLogitsLoss", "BCEWithLogitsLoss", {}, "multilabel"),
    "multilabel_soft_margin": ("MultiLabelSoftMarginLoss", "MultiLabelSoftMarginLoss", {}, "multilabel"),
    "multi_margin": ("MultiMarginLoss", "MultiMarginLoss", {"margin": 0.5}, "classes"),
}
TOLERANCE = 1e-4


def make_data(task: str, n: int, d: int, k: int, rng: np.random.Generator):
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=(d, k)).astype(np.float32)
    z = x @ w
    if task in ("classes", "log_probs"):
        return x, z.argmax(1).astype(np.int64)
    if task == "multilabel":
        return x, (z > 0).astype(np.float32)
    return x, np.tanh(z).astype(np.float32)


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss", choices=sorted(LOSSES), default="cross_entropy")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--plot", metavar="FILE", default=None, help="save the curves as a PNG")
    args = p.parse_args(argv)
    if args.plot:
        # fail now, not after the whole run
        try:
            import matplotlib
        except ImportError:
            p.error("--plot needs matplotlib: pip install matplotlib "
                    "(or the package's extra: pip install -e '.[plot]')")
        matplotlib.use("Agg")

    import mlx.core as mx
    import mlx.nn as nn
    import torch

    import mlx_losses

    torch.set_num_threads(1)
    ours_name, torch_name, kwargs, task = LOSSES[args.loss]
    steps = args.steps or (15 if args.quick else 200)
    d, h, k, batch, lr = 12, 32, 4, 64, 0.1
    rng = np.random.default_rng(0)
    x_all, y_all = make_data(task, steps * batch, d, k, rng)

    # One set of initial weights for both frameworks.
    w1 = (rng.normal(size=(h, d)) / np.sqrt(d)).astype(np.float32)
    b1 = np.zeros(h, np.float32)
    w2 = (rng.normal(size=(k, h)) / np.sqrt(h)).astype(np.float32)
    b2 = np.zeros(k, np.float32)

    # ---- torch
    tmodel = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, k))
    with torch.no_grad():
        for layer, (w, b) in zip((tmodel[0], tmodel[2]), ((w1, b1), (w2, b2))):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    tloss = getattr(torch.nn, torch_name)(**kwargs)
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)

    # ---- MLX
    model = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, k))
    model.update({"layers": [
        {"weight": mx.array(w1), "bias": mx.array(b1)}, {},
        {"weight": mx.array(w2), "bias": mx.array(b2)},
    ]})
    loss_fn = getattr(mlx_losses, ours_name)(**kwargs)
    log_probs = task == "log_probs"

    def forward(m, xb, yb):
        out = m(xb)
        if log_probs:
            out = nn.log_softmax(out, axis=1)
        return loss_fn(out, yb)

    loss_and_grad = nn.value_and_grad(model, forward)

    curve_t, curve_m = [], []
    print(f"{'step':>4}  {'torch':>12}  {'mlx':>12}  {'rel diff':>9}")
    for s in range(steps):
        xb = x_all[s * batch : (s + 1) * batch]
        yb = y_all[s * batch : (s + 1) * batch]
        # torch step
        topt.zero_grad()
        out = tmodel(torch.from_numpy(xb))
        if log_probs:
            out = torch.log_softmax(out, dim=1)
        lt = tloss(out, torch.from_numpy(yb))
        lt.backward()
        topt.step()
        # MLX step (plain SGD, as torch's)
        lm, grads = loss_and_grad(model, mx.array(xb), mx.array(yb))
        model.update(
            nn.utils.tree_map(lambda p, g: p - lr * g, model.parameters(), grads)
        )
        mx.eval(model.parameters(), lm)
        curve_t.append(lt.item())
        curve_m.append(lm.item())
        rel = abs(curve_t[-1] - curve_m[-1]) / max(abs(curve_t[-1]), 1e-12)
        if s % max(1, steps // 15) == 0 or s == steps - 1:
            print(f"{s:4d}  {curve_t[-1]:12.6f}  {curve_m[-1]:12.6f}  {rel:9.2e}", flush=True)

    ct, cm = np.array(curve_t), np.array(curve_m)
    worst = float(np.max(np.abs(ct - cm) / np.maximum(np.abs(ct), 1e-12)))
    print(f"loss {args.loss}: {steps} steps, torch {ct[0]:.4f} -> {ct[-1]:.4f}, "
          f"mlx {cm[0]:.4f} -> {cm[-1]:.4f}")
    print(f"max relative difference: {worst:.3e}")
    if args.plot:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(ct, label="PyTorch")
        ax.plot(cm, "--", label="MLX (mlx_losses)")
        ax.set_xlabel("step")
        ax.set_ylabel(f"{args.loss} loss")
        ax.set_title(f"max relative difference {worst:.1e}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"saved {args.plot}")
    return worst


if __name__ == "__main__":
    sys.exit(0 if main() <= TOLERANCE else 1)
