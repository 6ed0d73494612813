"""Lecture 07's experiments with the update rules of :mod:`tnn.optimizers`.

Each function runs on the CPU in well under a few seconds (the digits sweep: seconds per
learning rate) and returns plain numbers and arrays:

- :func:`trajectory` (the explorer's update), :func:`best_lr_race`, :func:`zigzag_fraction`:
  GD, momentum, Nesterov, Adam ... on an ill-conditioned quadratic and on Rosenbrock.
- :func:`convex_rates`: Nesterov's O(1/k^2) against gradient descent's O(1/k).
- :func:`adagrad_vs_rmsprop`: Adagrad's effective rates shrink until learning stalls.
- :func:`adam_bias_check`, :func:`adam_first_steps`: Adam's moments are biased towards 0.
- :func:`train_mlp`, :func:`lr_sweep`, :func:`good_lr_width`: the learning-rate range of
  Adam and SGD on scikit-learn's digits.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn import optimizers as opt
from tnn._validate import as_float_array, check_choice, check_positive, check_positive_int
from tnn.data import Split, digits_splits

__all__ = [
    "SURFACES", "BETA_NAME", "RACERS", "surface_value", "surface_grid", "surface_grad", "trajectory", "steps_to_tolerance",
    "zigzag_fraction", "best_lr_race", "convex_rates", "loglog_slope", "adagrad_vs_rmsprop",
    "adam_bias_check", "adam_first_steps", "digits_01", "TORCH_OPTIMIZERS", "train_mlp",
    "lr_sweep", "good_lr_width", "init_mlp", "mlp_logits",
]

#: The 2-D surfaces: the quadratic ``(x**2 + 50 y**2) / 2`` (condition number 50, y the
#: steep coordinate) and Rosenbrock's ``(1 - x)**2 + 100 (y - x**2)**2``; each with the
#: default start and the minimum.
SURFACES = {
    "quadratic": {"start": (-4.0, 1.0), "minimum": (0.0, 0.0), "curvatures": (1.0, 50.0),
                  "extent": (-4.5, 4.5, -1.5, 1.5)},
    "rosenbrock": {"start": (-1.5, 2.0), "minimum": (1.0, 1.0), "extent": (-2.0, 2.0, -1.0, 3.0)},
}

#: The coefficient a single "beta" slider sets for each rule (sgd and adagrad have none).
BETA_NAME = {"momentum": "gamma", "nesterov": "gamma", "adadelta": "rho", "rmsprop": "decay",
             "adam": "beta1", "adam_efficient": "beta1", "adamw": "beta1", "nadam": "beta1"}


def surface_value(surface: str, p):
    """The surface's value at points ``p`` of shape (..., 2)."""
    check_choice(surface, "surface", tuple(SURFACES))
    p = np.asarray(p, dtype=np.float64)
    x, y = p[..., 0], p[..., 1]
    if surface == "quadratic":
        return 0.5 * (x * x + 50.0 * y * y)
    return (1 - x) ** 2 + 100.0 * (y - x * x) ** 2


def surface_grid(surface: str, n: int = 200):
    """``(X, Y, Z)``, each of shape (n, n): the surface on a grid over its ``extent`` (for
    contour plots)."""
    check_choice(surface, "surface", tuple(SURFACES))
    x0, x1, y0, y1 = SURFACES[surface]["extent"]
    X, Y = np.meshgrid(np.linspace(x0, x1, check_positive_int(n, "n")), np.linspace(y0, y1, n))
    return X, Y, surface_value(surface, np.stack([X, Y], axis=-1))


def surface_grad(surface: str, p: np.ndarray) -> np.ndarray:
    """The gradient at one point ``p`` of shape (2,)."""
    x, y = p
    if surface == "quadratic":
        return np.array([x, 50.0 * y])
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def trajectory(rule: str, surface: str = "quadratic", lr: float = 0.02, steps: int = 100,
               start=None, beta=None, **hyper) -> np.ndarray:
    """The points visited by ``rule`` (a name of :data:`tnn.optimizers.RULES`) on a surface.

    Calls the rule's one-array function directly on the 2-vector (no dict plumbing), so
    100 steps take about a millisecond: fast enough to redraw on every slider move.
    ``hyper`` are the rule's other hyperparameters (``gamma``, ``beta1``, ...); ``beta``, if
    given, sets the rule's momentum-like coefficient named in :data:`BETA_NAME` (one slider
    for every rule; sgd and adagrad have none and ignore it). A run that leaves
    ``|p| < 1e6`` stops there (the rest of the rows repeat its last finite point).

    Returns
    -------
    points : ndarray of shape (steps + 1, 2), row 0 the start
    """
    check_choice(rule, "rule", tuple(opt.RULES))
    check_choice(surface, "surface", tuple(SURFACES))
    steps = check_positive_int(steps, "steps")
    fn = getattr(opt, f"{rule}_rule")
    if beta is not None and rule in BETA_NAME:
        hyper[BETA_NAME[rule]] = beta
    hyper = opt.check_hyper(fn, {"lr": lr, **hyper})
    p = as_float_array(SURFACES[surface]["start"] if start is None else start, "start")
    if p.shape != (2,):
        raise ValueError(f"start must be a point (x, y); got shape {p.shape}.")
    points = np.empty((steps + 1, 2))
    points[0], slots = p, {}
    for t in range(1, steps + 1):
        new, slots = fn(points[t - 1], surface_grad(surface, points[t - 1]), slots, t, **hyper)
        if not np.all(np.abs(new) < 1e6):  # diverged: hold the last finite point
            points[t:] = points[t - 1]
            break
        points[t] = new
    return points


def steps_to_tolerance(points: np.ndarray, surface: str = "quadratic", tol: float = 1e-6):
    """First step at which ``f(p) - f_min < tol * (f(start) - f_min)``; ``inf`` if never."""
    f = surface_value(surface, points) - surface_value(surface, SURFACES[surface]["minimum"])
    hit = np.flatnonzero(f < tol * f[0])
    return int(hit[0]) if hit.size else float("inf")


def zigzag_fraction(points: np.ndarray, coord: int = 1, first: int = 30) -> float:
    """Share of the first ``first`` steps whose move along ``coord`` reverses the previous
    one (1.0: a sign change every step, the zig-zag of GD across a steep valley)."""
    d = np.diff(points[: first + 1, coord])
    d = d[d != 0]
    return float(np.mean(np.sign(d[1:]) != np.sign(d[:-1]))) if d.size > 1 else 0.0


#: The racers of :func:`best_lr_race`: rule name and its fixed hyperparameters.
RACERS = {"gd": ("sgd", {}), "momentum": ("momentum", {"gamma": 0.9}),
          "nesterov": ("nesterov", {"gamma": 0.9}), "adam": ("adam", {})}


def best_lr_race(surface: str = "quadratic", tol: float = 1e-6, steps: int = 1000,
                 lrs=None) -> dict:
    """Each racer at its best learning rate: the fewest steps to ``tol`` (quadratic) or the
    smallest distance to the minimum after ``steps`` (Rosenbrock).

    ``lrs`` defaults to 61 log-spaced rates from 1e-5 to 1. Returns ``{racer: {"lr",
    "steps" (quadratic) or "distance" (rosenbrock), "zigzag"}}`` where ``zigzag`` is
    :func:`zigzag_fraction` of the steep coordinate at that rate.
    """
    lrs = np.logspace(-5, 0, 61) if lrs is None else as_float_array(lrs, "lrs")
    out = {}
    for racer, (rule, hyper) in RACERS.items():
        best = None
        for lr in lrs:
            pts = trajectory(rule, surface, float(lr), steps, **hyper)
            if surface == "quadratic":
                score = steps_to_tolerance(pts, surface, tol)
            else:
                score = float(np.linalg.norm(pts[-1] - SURFACES[surface]["minimum"]))
            if best is None or score < best[0]:
                best = (score, float(lr), zigzag_fraction(pts))
        key = "steps" if surface == "quadratic" else "distance"
        out[racer] = {"lr": best[1], key: best[0], "zigzag": best[2]}
    return out


def loglog_slope(k, gap) -> float:
    """Least-squares slope of ``log(gap)`` against ``log(k)``."""
    return float(np.polyfit(np.log(k), np.log(gap), 1)[0])


def convex_rates(n: int = 3000, steps: int = 1000, fit=(10, 1000)) -> dict:
    """Gradient descent against Nesterov's accelerated method on a smooth convex quadratic
    where GD really is O(1/k): ``f(x) = sum(lam_i x_i^2) / 2`` with ``lam_i = i**-2``
    (L = 1, eigenvalues spread down towards 0) from ``x0_i = i**-0.5``.

    GD: ``x -= grad(x) / L``. Nesterov (for convex f; the momentum rises to 1):
    ``y = x_k + (k - 1) / (k + 2) (x_k - x_{k-1}); x_{k+1} = y - grad(y) / L``.
    Returns the gaps ``f(x_k) - f*`` for k = 1..steps, their log-log slopes over ``fit``
    and the textbook bounds ``L |x0|^2 / (2k)`` and ``2 L |x0|^2 / (k + 1)^2``.
    """
    n, steps = check_positive_int(n, "n"), check_positive_int(steps, "steps")
    i = np.arange(1, n + 1)
    lam, x0 = i ** -2.0, i ** -0.5  # (n,), (n,)
    gap = lambda x: 0.5 * float(np.sum(lam * x * x))  # noqa: E731 - f* = 0 at x = 0
    x, gd = x0.copy(), []
    for _ in range(steps):
        x = x - lam * x
        gd.append(gap(x))
    x, x_prev, nest = x0.copy(), x0.copy(), []
    for k in range(1, steps + 1):
        y = x + (k - 1) / (k + 2) * (x - x_prev)  # look ahead along the last move
        x_prev, x = x, y - lam * y  # gradient step from the look-ahead point
        nest.append(gap(x))
    k = np.arange(1, steps + 1)
    sel = (k >= fit[0]) & (k <= fit[1])
    gd, nest = np.array(gd), np.array(nest)
    r2 = float(np.sum(x0 * x0))
    return {"k": k, "gd": gd, "nesterov": nest, "gd_slope": loglog_slope(k[sel], gd[sel]),
            "nesterov_slope": loglog_slope(k[sel], nest[sel]),
            "gd_bound": r2 / (2 * k), "nesterov_bound": 2 * r2 / (k + 1) ** 2}


def adagrad_vs_rmsprop(d: int = 10, steps: int = 1000, lr: float = 0.1, seed: int = 0,
                       decay: float = 0.99) -> dict:
    """Adagrad's effective rates ``lr / (sqrt(sum g^2) + eps)`` against RMSprop's
    ``lr / (sqrt(E[g^2]) + eps)`` on a long walk: ``f(p) = sum(sqrt(1 + (p - a)^2) - 1)``
    from ``p = 0`` to targets ``a`` drawn 20..50 away (``seed``). Far from ``a`` every
    gradient entry is close to 1 in size, so Adagrad's steps shrink like ``lr / sqrt(t)``
    and its walk slows to a crawl, while RMSprop keeps steps of about ``lr`` (its very
    first steps are larger: its average starts at 0 with no bias correction, so update 1
    moves ``lr / sqrt(1 - decay)``, 10 lr for decay 0.99).

    Returns ``{"adagrad": {...}, "rmsprop": {...}}``, each with ``rates`` (steps, d),
    ``remaining`` (steps,) the mean |p - a| over the initial mean distance, and ``step``
    (steps,) the mean |step| per update.
    """
    rng = np.random.default_rng(seed)
    target = rng.uniform(20, 50, size=d) * rng.choice([-1.0, 1.0], size=d)
    out = {}
    for name, hyper, key in (("adagrad", {"lr": lr}, "sum"),
                             ("rmsprop", {"lr": lr, "decay": decay}, "square_avg")):
        fn = getattr(opt, f"{name}_rule")
        hyper = opt.check_hyper(fn, hyper)
        eps = 1e-10 if name == "adagrad" else 1e-8  # the rules' default eps
        p, slots = np.zeros(d), {}
        rates, remaining, step = np.empty((steps, d)), np.empty(steps), np.empty(steps)
        for t in range(1, steps + 1):
            g = (p - target) / np.sqrt(1 + (p - target) ** 2)
            new, slots = fn(p, g, slots, t, **hyper)
            rates[t - 1] = lr / (np.sqrt(slots[key]) + eps)
            step[t - 1] = np.mean(np.abs(new - p))
            p = new
            remaining[t - 1] = np.mean(np.abs(p - target)) / np.mean(np.abs(target))
        out[name] = {"rates": rates, "remaining": remaining, "step": step}
    return out


def adam_bias_check(streams: int = 20000, steps: int = 1000, beta1: float = 0.9,
                    beta2: float = 0.999, mean: float = 0.5, std: float = 1.0,
                    seed: int = 0) -> dict:
    """Adam's moments on stationary noise ``g ~ N(mean, std^2)``, over many independent
    streams: ``E[m_t] = E[g] (1 - beta1**t)`` and ``E[v_t] = E[g^2] (1 - beta2**t)``.

    Returns per step t = 1..steps: ``v_mean`` and ``v_se`` (mean of v_t over the streams
    and its standard error), ``m_mean``, ``m_se``, the predictions ``v_expected``,
    ``m_expected``, and ``v_hat_mean`` (mean of the corrected ``v_t / (1 - beta2**t)``).
    """
    streams, steps = check_positive_int(streams, "streams"), check_positive_int(steps, "steps")
    rng = np.random.default_rng(seed)
    m, v = np.zeros(streams), np.zeros(streams)
    rows = {k: np.empty(steps) for k in ("v_mean", "v_se", "m_mean", "m_se", "v_hat_mean")}
    for t in range(1, steps + 1):
        g = rng.normal(mean, std, size=streams)  # one gradient per stream
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rows["v_mean"][t - 1], rows["v_se"][t - 1] = v.mean(), v.std() / np.sqrt(streams)
        rows["m_mean"][t - 1], rows["m_se"][t - 1] = m.mean(), m.std() / np.sqrt(streams)
        rows["v_hat_mean"][t - 1] = v.mean() / (1 - beta2 ** t)
    t = np.arange(1, steps + 1)
    rows["v_expected"] = (mean ** 2 + std ** 2) * (1 - beta2 ** t)
    rows["m_expected"] = mean * (1 - beta1 ** t)
    rows["t"] = t
    return rows


def adam_first_steps(steps: int = 20, lr: float = 1e-3, beta1: float = 0.9,
                     beta2: float = 0.999, streams: int = 2000, seed: int = 0) -> dict:
    """The size of Adam's first steps with and without bias correction, on stationary noise
    ``g ~ N(1, 0.1^2)`` (one array of ``streams`` independent parameters).

    Returns ``t``, ``corrected`` and ``uncorrected`` (mean |step| / lr per update) and
    ``factor``, :func:`tnn.optimizers.bias_correction_factor` (the ratio for a constant
    gradient: ``sqrt(10)`` at t = 1 for the default betas).
    """
    rng = np.random.default_rng(seed)
    p, q, s, s_unc = np.zeros(streams), np.zeros(streams), {}, {}
    corrected, uncorrected = np.empty(steps), np.empty(steps)
    for t in range(1, steps + 1):
        g = rng.normal(1.0, 0.1, size=streams)
        new, s = opt.adam_rule(p, g, s, t, lr=lr, beta1=beta1, beta2=beta2)
        m = beta1 * s_unc.get("m", 0.0) + (1 - beta1) * g  # the same moments, uncorrected
        v = beta2 * s_unc.get("v", 0.0) + (1 - beta2) * g * g
        s_unc = {"m": m, "v": v}
        new_q = q - lr * m / (np.sqrt(v) + 1e-8)
        corrected[t - 1] = np.mean(np.abs(new - p)) / lr
        uncorrected[t - 1] = np.mean(np.abs(new_q - q)) / lr
        p, q = new, new_q
    t = np.arange(1, steps + 1)
    return {"t": t, "corrected": corrected, "uncorrected": uncorrected,
            "factor": opt.bias_correction_factor(t, beta1, beta2)}


# ------------------------------------------------------------------------------------------
# the learning-rate range on digits: a functional MLP trained with the torch twins
# ------------------------------------------------------------------------------------------
def init_mlp(sizes, seed: int, device="cpu") -> dict:
    """torch.nn.Linear's default initialization, as a dict W1, b1, W2, b2, ... (W: (in, out))."""
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        bound = 1.0 / np.sqrt(d_in)
        params[f"W{i}"] = ((torch.rand(d_in, d_out, generator=gen) * 2 - 1) * bound).to(device)
        params[f"b{i}"] = ((torch.rand(d_out, generator=gen) * 2 - 1) * bound).to(device)
    return params


def mlp_logits(params: dict, X: torch.Tensor) -> torch.Tensor:
    """The ReLU MLP of :func:`init_mlp`'s parameters: logits of shape (N, classes)."""
    n_layers = len(params) // 2
    h = X  # (N, D)
    for i in range(1, n_layers + 1):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < n_layers:
            h = torch.relu(h)
    return h  # (N, classes) logits


#: the torch.optim optimizer :func:`train_mlp` uses for each rule, our hyperparameter names
#: bridged to torch's (the rules equal these to ~1e-14 per step, tests/test_optimizers.py)
TORCH_OPTIMIZERS = {
    "sgd": lambda ps, lr: torch.optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr, gamma=0.9: torch.optim.SGD(ps, lr=lr, momentum=gamma),
    "nesterov": lambda ps, lr, gamma=0.9: torch.optim.SGD(ps, lr=lr, momentum=gamma,
                                                           nesterov=True),
    "rmsprop": lambda ps, lr, decay=0.99, eps=1e-8: torch.optim.RMSprop(ps, lr=lr, alpha=decay,
                                                                         eps=eps),
    "adam": lambda ps, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0: torch.optim.Adam(
        ps, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay),
    "adamw": lambda ps, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2:
        torch.optim.AdamW(ps, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay),
}


def train_mlp(rule: str, lr: float, split: dict, *, seed: int = 0, epochs: int = 20,
              batch_size: int = 32, hidden: int = 64, device="cpu", **hyper) -> np.ndarray:
    """Train a 64 -> ``hidden`` -> 10 ReLU MLP on ``split`` with ``rule``'s torch.optim
    optimizer (:data:`TORCH_OPTIMIZERS`; ``hyper`` in our names, e.g. ``gamma``, ``beta1``).

    An experiment about learning-rate ranges, not about our code: it steps with the
    well-kept library (our rules take the same steps to ~1e-14, which a chaotic run at a
    high rate could still amplify into a different last digit). ``split`` has ``"train"``
    and ``"val"`` :class:`tnn.data.Split` s with pixels in [0, 1]. ``seed`` decides the
    initial weights and the batch order.

    Returns ``{"val_loss", "val_acc"}``, each of shape (epochs,), after every epoch; from
    the first epoch whose weights are no longer finite, the loss is ``inf`` and the
    accuracy 0.
    """
    check_choice(rule, "rule", tuple(TORCH_OPTIMIZERS))
    lr = check_positive(lr, "lr")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    device = torch.device(device)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in
              init_mlp([split["train"].X.shape[1], hidden, 10], seed, device).items()}
    optimizer = TORCH_OPTIMIZERS[rule](list(params.values()), lr, **hyper)
    X = torch.as_tensor(split["train"].X, device=device)
    y = torch.as_tensor(split["train"].y, device=device)
    Xv = torch.as_tensor(split["val"].X, device=device)
    yv = torch.as_tensor(split["val"].y, device=device)
    gen = torch.Generator().manual_seed(seed + 1)
    losses, accs = np.full(epochs, np.inf), np.zeros(epochs)
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=gen).to(device)
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(mlp_logits(params, X[idx]), y[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            if not all(torch.isfinite(v).all() for v in params.values()):
                break
            logits = mlp_logits(params, Xv)  # (N_val, 10)
            losses[epoch] = torch.nn.functional.cross_entropy(logits, yv).item()
            accs[epoch] = (logits.argmax(dim=1) == yv).double().mean().item()
    return {"val_loss": losses, "val_acc": accs}


def digits_01(seed: int) -> dict:
    """:func:`tnn.data.digits_splits` (1079 train, 359 val, 359 test) with pixels in [0, 1]."""
    splits = digits_splits(np.random.default_rng(seed))
    return {k: Split(v.X / np.float32(16.0), v.y) for k, v in splits.items()}


def lr_sweep(rule: str, lrs, split: dict, *, seed: int = 0, **kwargs) -> np.ndarray:
    """The best validation loss over the epochs of :func:`train_mlp` for each rate in ``lrs``
    (what early stopping would keep); ``nan`` losses count as ``inf``."""
    curves = (train_mlp(rule, float(lr), split, seed=seed, **kwargs)["val_loss"] for lr in lrs)
    return np.array([np.min(np.where(np.isnan(c), np.inf, c)) for c in curves])


def good_lr_width(lrs, losses, factor: float = 3.0) -> float:
    """Width, in decades, of the learning rates whose loss is within ``factor`` x the best.

    The loss is interpolated linearly in ``log10(lr)`` between the grid's rates (the grid
    sorted ascending); the width is the length of the set where it is ``<= factor * best``.
    """
    lrs, losses = as_float_array(lrs, "lrs"), as_float_array(losses, "losses")
    factor = check_positive(factor, "factor")
    order = np.argsort(lrs)
    x, y = np.log10(lrs[order]), np.where(np.isfinite(losses[order]), losses[order], 1e300)
    threshold = factor * np.min(y)
    fine = np.linspace(x[0], x[-1], 2001)
    return float(np.mean(np.interp(fine, x, y) <= threshold) * (x[-1] - x[0]))
