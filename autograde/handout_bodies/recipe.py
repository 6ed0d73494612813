"""Handout bodies for tnn/recipe.py (see tables.py; parsed, never imported).

Assignment 10 grades its checks through model specs (initial_loss_check, overfit_steps,
dependency_check, diagnose_run), which the library does not define; the library functions that
hold their answers under other names are replaced here: the initial loss is
``torch.nn.CrossEntropyLoss`` and ``numpy.isclose``, the overfitting loop steps
``torch.optim.Adam`` on ``torch.nn.CrossEntropyLoss``, the dependency check takes its gradient with
``torch.autograd.grad``, and the curve diagnosis reads its windows with ``numpy.correlate``.
The messages are the library's own, word for word, so the lectures print the same lines.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

RECIPE = "tnn/recipe.py"

MODULE_OF |= dict.fromkeys(("initial_loss", "check_initial_loss", "check_overfit",
                            "diagnose_curves", "check_batch_independence"), RECIPE)

DELEGATE |= {
    "initial_loss": "torch.nn.CrossEntropyLoss (in eval mode, without gradients)",
    "check_initial_loss": "torch.nn.CrossEntropyLoss and numpy.isclose",
    "check_overfit": "torch.optim.Adam on torch.nn.CrossEntropyLoss",
    "diagnose_curves": "numpy.correlate (the windows' means)",
    "check_batch_independence": "torch.autograd.grad",
}


# ------------------------------------------------------------------------------------------
# tnn/recipe.py
# ------------------------------------------------------------------------------------------
def initial_loss(model, X, y) -> float:
    X, y = _tensors(X, y)
    mode = model.training
    model.train(False)
    try:
        with torch.no_grad():
            return float(torch.nn.CrossEntropyLoss(reduction="mean")(model(X), y))
    finally:
        model.train(mode)


def check_initial_loss(model, X, y, n_classes: int, *, rtol: float = 0.1) -> Check:
    rtol = check_positive(rtol, "rtol")
    expected = expected_initial_loss(n_classes)
    loss = initial_loss(model, X, y)
    ok = bool(np.isfinite(loss)) and bool(np.isclose(loss, expected, rtol=rtol, atol=0.0))
    if ok:
        where = ""
    elif loss > expected:
        where = (" Look at the initialization of the last layer (its weights and bias): "
                 "confident guesses before training cost more than log C.")
    else:
        where = (" Before training a loss below log C is suspicious: check that it is the "
                 "cross-entropy of logits, averaged over examples.")
    return Check("initial loss", ok, f"loss {loss:.4f} vs log {n_classes} = {expected:.4f} "
                 f"(tolerance {rtol:.0%})." + where,
                 {"loss": loss, "expected": expected})


def check_overfit(model, X, y, *, steps: int = 500, lr: float = 1e-2,
                  target: float = 1.0) -> Check:
    X, y = _tensors(X, y)
    steps, lr = check_positive_int(steps, "steps"), check_positive(lr, "lr")
    criterion = torch.nn.CrossEntropyLoss()
    adam = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history, acc, made = [], 0.0, 0
    fitted = False
    while made < steps:
        out = model(X)
        acc = torch.eq(out.argmax(dim=1), y).float().mean().item()
        if acc >= target:
            fitted = True
            break
        value = criterion(out, y)
        adam.zero_grad(set_to_none=True)
        value.backward()
        adam.step()
        history.append(value.item())
        made += 1
    needed = made if fitted else None
    if fitted:
        message = (f"{len(y)} examples fitted to {acc:.0%} training accuracy after {needed} "
                   "updates.")
    else:
        message = (f"{len(y)} examples reach only {acc:.1%} training accuracy after {steps} "
                   f"updates (loss {history[-1]:.3g}). A network that cannot memorize a "
                   "handful of examples is broken: look at the labels (do they match the "
                   "inputs?), the loss, the initialization (identical or dead units learn "
                   "nothing) and whether the optimizer steps the model's parameters.")
    return Check("overfit a small sample", fitted, message,
                 {"steps": needed, "accuracy": acc, "losses": np.array(history)})


def diagnose_curves(train_acc, val_acc, *, gap: float = 0.05, improving: float = 0.005,
                    window=None, underfit_below: float = 0.95,
                    crawling: float = 0.05) -> tuple:
    train, val = as_float_array(train_acc, "train_acc"), as_float_array(val_acc, "val_acc")
    if train.ndim != 1 or train.shape != val.shape or len(train) < 2:
        raise ValueError("train_acc and val_acc must be 1-D curves of the same length, at "
                         f"least 2 epochs; got shapes {train.shape} and {val.shape}.")
    if not (np.isfinite(train).all() and np.isfinite(val).all()):
        raise ValueError("the curves must be finite (a diverged run needs a lower learning "
                         "rate, not a diagnosis).")
    size = len(val) // 4 or 1
    if window is not None:
        size = check_positive_int(window, "window")
    size = min(size, len(val) // 2)
    box = np.full(size, 1 / size)
    t_means = np.correlate(train, box, mode="valid")
    v_means = np.correlate(val, box, mode="valid")
    peak = int(v_means.argmax())
    evidence = {"window": size, "train_now": float(t_means[-1]), "val_now": float(v_means[-1]),
                "gap_now": float(t_means[-1] - v_means[-1]),
                "train_gain": float(t_means[-1] - t_means[-1 - size]),
                "val_gain": float(v_means[-1] - v_means[-1 - size]),
                "val_below_best": float(v_means[peak] - v_means[-1]),
                "train_gain_since_best_val": float(t_means[-1] - t_means[peak])}
    fitted = evidence["train_now"] >= underfit_below
    if not fitted and evidence["train_gain"] <= crawling:
        label = DIAGNOSES[2]
    elif (fitted and evidence["gap_now"] > gap) or (
            evidence["val_below_best"] > improving
            and evidence["train_gain_since_best_val"] > 0):
        label = DIAGNOSES[0]
    elif evidence["val_gain"] > improving:
        label = DIAGNOSES[1]
    else:
        label = DIAGNOSES[3]
    return label, evidence


def check_batch_independence(model, X, *, index: int = 0, batch_dim: int = 0) -> Check:
    X = _tensors(X).clone().requires_grad_(True)
    n = X.shape[batch_dim]
    if not 0 <= index < n:
        raise ValueError(f"index must be in [0, {n}); got {index}.")
    mode = model.training
    model.train(False)
    try:
        (grad,) = torch.autograd.grad(model(X)[index].sum(), X, allow_unused=True)
    finally:
        model.train(mode)
    if grad is None:
        grad = torch.zeros_like(X)
    per_example = grad.abs().movedim(batch_dim, 0).reshape(n, -1).sum(dim=1)
    others = [j for j in range(n) if j != index and per_example[j] > 0]
    ok = not others and bool(per_example[index] > 0)
    if ok:
        message = f"only example {index} receives gradient from its own outputs."
    elif others:
        message = (f"example {index}'s outputs depend on {len(others)} other example(s) "
                   f"(e.g. {others[:5]}): the model mixes information across the batch. Look "
                   "at every reshape, view and transpose between the input and the output: a "
                   "view that reinterprets a (time, batch, ...) tensor as (batch, time, ...) "
                   "mixes examples; permute moves the axes instead.")
    else:
        message = (f"example {index} receives no gradient from its own outputs: the output "
                   "does not depend on the input (detached or constant).")
    return Check("batch independence (dependency check)", ok, message,
                 {"gradient_per_example": per_example.detach().numpy(), "mixed_with": others})
