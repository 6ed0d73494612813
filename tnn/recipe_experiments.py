"""Lecture 10's experiments: the seven-step recipe run end to end on digits, and Karpathy's
checks, each shown on a correct model and on a model with a real bug.

- :func:`run_recipe`: steps 1-7 on the digits split, every step's evidence recorded: the
  initial loss, overfitting 20 examples, an Adam learning-rate range test, a coarse
  quasi-random search (3 epochs per trial), a fine search around the best (15 epochs), the
  diagnosis of the best run's curves and the loop back that acts on it; the test split is
  scored once, at the end.
- :func:`initial_loss_study`, :func:`overfit_study`: steps 1 and 2 on a correct model and on
  a broken one (a last layer 10x too loud; all-zero weights).
- :func:`diagnosis_gallery`: three real runs whose curves read "overfitting", "train longer"
  and "underfitting".
- :func:`seed_study`, :func:`baseline_study`, :func:`prior_bias_study`,
  :func:`dependency_study`: Karpathy's checks.
- :func:`explorer_runs`: the runs behind the lecture's explorer (one learning rate per
  slider position, 200 training digits).

Everything runs in seconds on one CPU thread; tests/test_recipe.py asserts the lecture's
claims over several seeds.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tnn import recipe
from tnn.data import small_digits
from tnn.nets import evaluate, make_mlp, train_classifier
from tnn.optim_experiments import digits_01, init_mlp, mlp_logits
from tnn.population import best_trial, train_population
from tnn.search import Axis, SearchSpace, quasi_random_search

__all__ = ["LECTURE", "digits_mlp", "coarse_space", "fine_space", "loop_back", "run_recipe",
           "initial_loss_study", "overfit_study", "curves_run", "diagnosis_gallery",
           "seed_study", "baseline_study", "prior_bias_study", "dependency_study",
           "explorer_runs", "first_layer_images", "dead_units"]

#: The lecture's settings.
LECTURE = {"hidden": 64, "overfit_examples": 20, "coarse_trials": 32, "coarse_epochs": 3,
           "fine_trials": 16, "fine_epochs": 15, "batch_size": 64, "max_loops": 2,
           "loud_scale": 10.0, "explorer_lrs": tuple(float(v) for v in np.logspace(-4, -1, 7)),
           "explorer_epochs": 40, "explorer_train": 200}


def digits_mlp(seed: int = 0, hidden: int = LECTURE["hidden"]) -> nn.Sequential:
    """The recipe's model: a 64-``hidden``-10 ReLU MLP, PyTorch's default initialization
    drawn after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return make_mlp([64, hidden, 10])


# ------------------------------------------------------------------ steps 1 and 2, one by one
def initial_loss_study(split_seed: int = 0, model_seed: int = 0) -> dict:
    """Step 1 on the training digits: the default initialization and the same network with
    its last layer ``LECTURE["loud_scale"]`` times too large. Returns the two Checks."""
    split = digits_01(split_seed)
    X, y = split["train"].X, split["train"].y
    good = recipe.check_initial_loss(digits_mlp(model_seed), X, y, 10)
    loud = digits_mlp(model_seed)
    with torch.no_grad():
        loud[-1].weight.mul_(LECTURE["loud_scale"])
        loud[-1].bias.mul_(LECTURE["loud_scale"])
    return {"default": good, "loud": recipe.check_initial_loss(loud, X, y, 10)}


def overfit_study(split_seed: int = 0, model_seed: int = 0, steps: int = 300) -> dict:
    """Step 2: the first ``LECTURE["overfit_examples"]`` training digits, fitted by the
    default network and by one with every weight and bias zero (identical hidden units at
    ReLU's flat zero: no gradient reaches the first layer). Returns the two Checks."""
    split = digits_01(split_seed)
    n = LECTURE["overfit_examples"]
    X, y = split["train"].X[:n], split["train"].y[:n]
    good = recipe.check_overfit(digits_mlp(model_seed), X, y, steps=steps)
    dead = digits_mlp(model_seed)
    for p in dead.parameters():
        nn.init.zeros_(p)
    return {"default": good, "zero init": recipe.check_overfit(dead, X, y, steps=steps)}


# ---------------------------------------------------------------------- steps 4 and 5: spaces
def coarse_space(range_test: dict) -> SearchSpace:
    """Step 4's space: the learning rate from a decade below the smallest rate that dropped
    the loss in the range test to the largest one; weight decay 1e-4 ... 1 (AdamW's decoupled
    decay, log scale); dropout 0 ... 0.6."""
    good = range_test["lrs"][range_test["significant"]]
    if not len(good):
        raise ValueError("no rate dropped the loss in the range test: fix the model (steps 1 "
                         "and 2) before searching.")
    return SearchSpace((Axis("lr", float(good.min()) / 10, float(good.max()), "log"),
                        Axis("weight_decay", 1e-4, 1.0, "log"),
                        Axis("dropout", 0.0, 0.6, "linear")))


def fine_space(best: dict, *, more_regularization: bool = False) -> SearchSpace:
    """Step 5's space around a trial: its learning rate / 3 ... x 3, weight decay / 10 ... x 10
    and dropout +- 0.15 (within 0 ... 0.7). With ``more_regularization`` (step 7 after an
    "overfitting" diagnosis) the decay and dropout ranges start at the trial's values and go
    up (x 30, + 0.3)."""
    lr, wd, p = best["lr"], best["weight_decay"], best["dropout"]
    if more_regularization:
        return SearchSpace((Axis("lr", lr / 3, lr * 3, "log"),
                            Axis("weight_decay", wd, min(wd * 30, 10.0), "log"),
                            Axis("dropout", p, min(p + 0.3, 0.8), "linear")))
    return SearchSpace((Axis("lr", lr / 3, lr * 3, "log"),
                        Axis("weight_decay", wd / 10, wd * 10, "log"),
                        Axis("dropout", max(p - 0.15, 0.0), min(p + 0.15, 0.7), "linear")))


def _step(number, title, check_or_text, passed=True, **data) -> dict:
    text = check_or_text if isinstance(check_or_text, str) else str(check_or_text)
    passed = passed if isinstance(check_or_text, str) else bool(check_or_text)
    return {"step": number, "title": title, "evidence": text, "passed": passed, "data": data}


def _describe_space(space: SearchSpace) -> str:
    return "; ".join(f"{a.name} {a.low:.2g} ... {a.high:.2g}" for a in space.axes)


def _describe_trial(trial: dict) -> str:
    return (f"lr {trial['lr']:.2g}, weight decay {trial['weight_decay']:.2g}, dropout "
            f"{trial['dropout']:.2f}")


def loop_back(label: str, settings: dict) -> tuple[str, dict]:
    """Step 7: what the next fine search changes after the diagnosis ``label``:
    "train longer" doubles ``settings["epochs"]``, "underfitting" doubles
    ``settings["hidden"]``, "overfitting" searches more weight decay and dropout. Returns
    ``(what was done, the new settings)`` (``more_regularization`` says whether the next
    fine space moves the regularization up)."""
    new = {**settings, "more_regularization": False}
    if label == recipe.DIAGNOSES[1]:
        new["epochs"] = 2 * settings["epochs"]
        return f"train longer: {new['epochs']} epochs", new
    if label == recipe.DIAGNOSES[0]:
        new["more_regularization"] = True
        return "regularize: search more weight decay and dropout", new
    if label == recipe.DIAGNOSES[2]:
        new["hidden"] = 2 * settings["hidden"]
        return f"a bigger model: {new['hidden']} hidden units", new
    raise ValueError(f"a {label!r} run needs no loop back; labels that do: "
                     f"{recipe.DIAGNOSES[:3]}.")


def run_recipe(split_seed: int = 0, *, device="cpu", search_seed: int = 0) -> dict:
    """The seven steps on the digits split ``split_seed`` (1079 train / 359 val / 359 test).

    Returns ``{"steps": [...], "final": {...}}``: one entry per step with its number, title,
    printed evidence, whether it passed and the data behind its figure; ``final`` holds the
    chosen trial, its curves, its validation accuracy, the test accuracy of the chosen
    network (scored once), its weights, the first layer's initial weights and which of its
    hidden units are dead on the training digits.
    """
    split = digits_01(split_seed)
    X, y = split["train"].X, split["train"].y
    rng = np.random.default_rng(search_seed)
    steps = []
    # 1. initial loss, weight decay off
    steps.append(_step(1, "initial loss = log C", recipe.check_initial_loss(
        digits_mlp(0), X, y, 10)))
    # 2. overfit a small sample
    n = LECTURE["overfit_examples"]
    overfit = recipe.check_overfit(digits_mlp(0), X[:n], y[:n], steps=300)
    steps.append(_step(2, "overfit a small sample", overfit,
                       losses=overfit.measured["losses"]))
    if not (steps[0]["passed"] and steps[1]["passed"]):
        return {"steps": steps, "final": None}
    # 3. a learning rate that drops the loss within 100 iterations
    rt = recipe.lr_range_test(lambda: make_mlp([64, LECTURE["hidden"], 10]), X, y,
                              optimizer="adam", seed=0)
    text = ", ".join(f"{lr:g}: {r:.0%}" for lr, r in zip(rt["lrs"], rt["ratio"], strict=True))
    steps.append(_step(3, "a learning rate that drops the loss in 100 updates",
                       f"loss after 100 Adam updates, as a share of the first: {text}; "
                       f"largest rate that drops it below half: {rt['best_lr']:g}.",
                       rt["best_lr"] is not None, range_test=rt))
    common = {"batch_size": LECTURE["batch_size"], "hidden": LECTURE["hidden"], "device": device}
    # 4. coarse search, a few epochs per trial
    space = coarse_space(rt)
    coarse = train_population(quasi_random_search(space, LECTURE["coarse_trials"], rng), split,
                              epochs=LECTURE["coarse_epochs"], **common)
    _, c_best, c_acc = best_trial(coarse)
    steps.append(_step(4, f"coarse search: {LECTURE['coarse_trials']} trials x "
                          f"{LECTURE['coarse_epochs']} epochs",
                       f"over {_describe_space(space)}: best validation accuracy {c_acc:.3f} "
                       f"({_describe_trial(c_best)}).", space=space, result=coarse))
    # 5. fine search around the best, 10-20 epochs
    epochs, regularize, center = LECTURE["fine_epochs"], False, c_best
    for loop in range(LECTURE["max_loops"] + 1):
        space = fine_space(center, more_regularization=regularize)
        fine = train_population(quasi_random_search(space, LECTURE["fine_trials"], rng), split,
                                epochs=epochs, keep_weights=True, **common)
        i, f_best, f_acc = best_trial(fine)
        steps.append(_step(5, f"fine search: {LECTURE['fine_trials']} trials x {epochs} "
                              "epochs" + (" (loop back)" if loop else ""),
                           f"over {_describe_space(space)}: best validation accuracy {f_acc:.3f} "
                           f"({_describe_trial(f_best)}).", space=space, result=fine))
        # 6. read the curves of the best run
        label, evidence = recipe.diagnose_curves(fine["train_acc"][i], fine["val_acc"][i])
        steps.append(_step(6, "read the curves",
                           f"{label} (means over the last {evidence['window']} epochs: train "
                           f"{evidence['train_now']:.3f}, val {evidence['val_now']:.3f}, gap {evidence['gap_now']:.3f}, val "
                           f"gain over the last window {evidence['val_gain']:+.3f}).",
                           label=label, evidence=evidence, index=i))
        # 7. loop back to 5, acting on the diagnosis
        if label == recipe.DIAGNOSES[3] or loop == LECTURE["max_loops"]:
            steps.append(_step(7, "loop back", "stop: " + (
                "the curves read as a good fit." if label == recipe.DIAGNOSES[3] else
                f"{LECTURE['max_loops']} loops spent; the last diagnosis stands.")))
            break
        action, settings = loop_back(label, {"epochs": epochs, "hidden": common["hidden"]})
        epochs, common["hidden"] = settings["epochs"], settings["hidden"]
        regularize, center = settings["more_regularization"], f_best
        steps.append(_step(7, "loop back", f"back to step 5 ({action})."))
    # the test split, once, for the chosen network
    weights = {k: v[i] for k, v in fine["weights"].items()}
    with torch.no_grad():
        logits = mlp_logits({k: torch.as_tensor(v) for k, v in weights.items()},
                            torch.as_tensor(split["test"].X))
    test_acc = float((logits.argmax(dim=1).numpy() == split["test"].y).mean())
    final = {"trial": f_best, "epochs": epochs, "hidden": common["hidden"], "val_acc": f_acc,
             "test_acc": test_acc, "train_curve": fine["train_acc"][i],
             "val_curve": fine["val_acc"][i], "weights": weights,
             "W1_init": init_mlp([64, common["hidden"], 10], f_best["seed"])["W1"].numpy(),
             "dead": dead_units(weights, X)}
    return {"steps": steps, "final": final}


def dead_units(weights: dict, X) -> np.ndarray:
    """Which first-layer ReLU units of a network (:func:`tnn.optim_experiments.init_mlp`'s
    layout) never activate on any row of ``X``: a bool per hidden unit."""
    pre = np.asarray(X, dtype=np.float64) @ np.asarray(weights["W1"], dtype=np.float64)
    pre = pre + np.asarray(weights["b1"], dtype=np.float64).reshape(1, -1)
    return np.all(pre <= 0, axis=0)


# --------------------------------------------------------------------------- step 6: curves
def curves_run(model: nn.Module, split: dict, epochs: int, lr: float, seed: int = 0):
    """SGD with momentum 0.9; returns the training and validation accuracy after every
    epoch (the training accuracy on the whole training set, in eval mode)."""
    Xt, yt = torch.as_tensor(split["train"].X), torch.as_tensor(split["train"].y)

    def record(m, epoch, history):
        if epoch:
            history.extras.setdefault("train_acc", []).append(evaluate(m, Xt, yt)[1])

    h = train_classifier(model, split["train"].X, split["train"].y, split["val"].X,
                         split["val"].y, epochs=epochs, lr=lr, momentum=0.9, seed=seed,
                         progress=False, on_epoch=record)
    return np.array(h.extras["train_acc"]), np.array(h.val_acc)


def diagnosis_gallery(seed: int = 0) -> dict:
    """Three real runs, one per diagnosis: a wide MLP (256 hidden) trained 60 epochs on 100
    digits (overfitting); the course MLP trained 4 epochs at lr 0.003 on the full split
    (train longer); a 2-unit tanh bottleneck trained 80 epochs (underfitting).

    Returns ``{diagnosis the run was built for: (train_acc, val_acc)}``."""
    small = small_digits(np.random.default_rng(seed), n_train=100, n_val=500)
    full = digits_01(seed)
    torch.manual_seed(seed)
    bottleneck = make_mlp([64, 2, 10], "tanh")
    cases = [(recipe.DIAGNOSES[0], digits_mlp(seed, 256), small, 60, 0.1),
             (recipe.DIAGNOSES[1], digits_mlp(seed), full, 4, 0.003),
             (recipe.DIAGNOSES[2], bottleneck, full, 80, 0.05)]
    return {label: curves_run(model, split, epochs, lr, seed)
            for label, model, split, epochs, lr in cases}


# ------------------------------------------------------------------------ Karpathy's checks
def seed_study(seed: int = 3, n: int = 200) -> dict:
    """Twenty full-batch SGD updates of a 64-16-10 MLP on ``n`` digits, run twice per variant:
    with the initialization seeded, and with the seed forgotten. Returns the two Checks."""
    split = digits_01(0)
    X, y = torch.as_tensor(split["train"].X[:n]), torch.as_tensor(split["train"].y[:n])

    def make_run(seeded):
        def run(s):
            if seeded:
                torch.manual_seed(s)
            model = make_mlp([64, 16, 10])
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            losses = []
            for _ in range(20):
                loss = F.cross_entropy(model(X), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            return losses
        return run

    return {"seeded": recipe.check_same_seed_same_run(make_run(True), seed),
            "unseeded": recipe.check_same_seed_same_run(make_run(False), seed)}


class _Blind(nn.Module):
    """The bug: a forward pass that never looks at its input (a wrong tensor fed on)."""

    def __init__(self):
        super().__init__()
        self.net = make_mlp([64, 64, 10])

    def forward(self, x):
        return self.net(torch.zeros_like(x))


def baseline_study(split_seed: int = 0, epochs: int = 5) -> dict:
    """Karpathy's input-independent baseline: train on the real inputs and on all-zero
    inputs (5 epochs of SGD, momentum 0.9, lr 0.1), for the course MLP and for one whose
    forward pass ignores its input. Returns the two Checks."""
    split = digits_01(split_seed)

    def make_run(blind):
        def run(zero_inputs):
            torch.manual_seed(0)
            model = _Blind() if blind else make_mlp([64, 64, 10])
            scale = 0.0 if zero_inputs else 1.0
            h = train_classifier(model, split["train"].X * scale, split["train"].y,
                                 split["val"].X * scale, split["val"].y, epochs=epochs,
                                 lr=0.1, momentum=0.9, progress=False)
            return h.val_loss[-1]
        return run

    return {"model": recipe.check_input_independent_baseline(make_run(False)),
            "blind model": recipe.check_input_independent_baseline(make_run(True))}


def prior_bias_study(seed: int = 0, updates: int = 60, lr: float = 0.05) -> dict:
    """"Is this digit a 0?" (178 of 1797 digits, about 1:9): a 64-32-1 MLP trained with
    binary cross-entropy, full batch SGD, starting from the final bias 0 and from the prior's
    bias ``log(p / (1 - p))`` (the rest of the network identical). Returns the bias, the
    class share ``p`` and the two loss curves (``updates + 1`` losses, the first before any
    update)."""
    split = digits_01(seed)
    X = torch.as_tensor(split["train"].X)
    y = torch.as_tensor((split["train"].y == 0).astype(np.float32))
    p = float(y.mean())
    curves = {}
    for name, bias in (("zero bias", 0.0), ("prior bias", recipe.prior_bias(p))):
        torch.manual_seed(seed)
        model = make_mlp([64, 32, 1])
        with torch.no_grad():
            model[-1].weight.mul_(0.1)  # small last layer: the bias decides the first guess
            model[-1].bias.fill_(bias)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses = []
        for _ in range(updates + 1):
            loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        curves[name] = np.array(losses)
    entropy = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    return {"p": p, "bias": recipe.prior_bias(p), "entropy": entropy, "curves": curves}


def dependency_study(n: int = 32, index: int = 5, seed: int = 0) -> dict:
    """The backprop dependency check on digits read as 8 time steps of 8 pixels (time-major
    input, (8, N, 8)): :class:`tnn.recipe.TimeMajorMLP` correct and with ``view`` where
    ``permute`` was meant; then both trained 100 full-batch Adam updates (lr 0.01) on the
    1079 training digits. Returns the two Checks and the final training losses."""
    split = digits_01(0)
    X = recipe.to_time_major(split["train"].X)
    y = torch.as_tensor(split["train"].y)
    out = {}
    for name, bug in (("permute", False), ("view", True)):
        torch.manual_seed(seed)
        model = recipe.TimeMajorMLP(bug=bug)
        out[name] = recipe.check_batch_independence(model, X[:, :n], index=index, batch_dim=1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(100):
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[name].measured["final_loss"] = loss.item()
    return out


# ----------------------------------------------------------------------------- the explorer
def explorer_runs(seed: int = 0) -> dict:
    """One AdamW run per learning rate in ``LECTURE["explorer_lrs"]`` (1e-4 ... 1e-1), 40
    epochs on 200 training digits (batches of 32), validation on 500: slow rates underfit or
    need longer, fast ones overfit the small set. Returns the population's result."""
    split = small_digits(np.random.default_rng(seed), n_train=LECTURE["explorer_train"],
                         n_val=500)
    trials = [{"lr": lr, "seed": seed} for lr in LECTURE["explorer_lrs"]]
    return train_population(trials, split, epochs=LECTURE["explorer_epochs"], batch_size=32)


def first_layer_images(W1) -> np.ndarray:
    """The first layer's weights ``(64, hidden)`` as ``hidden`` 8x8 images, each scaled to
    [-1, 1] by its largest absolute entry."""
    W = np.asarray(W1, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != 64:
        raise ValueError(f"W1 must have shape (64, hidden); got {W.shape}.")
    images = W.T.reshape(-1, 8, 8)
    return images / np.maximum(np.abs(images).max(axis=(1, 2), keepdims=True), 1e-12)
