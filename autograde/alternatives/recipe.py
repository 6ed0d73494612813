"""Assignment 10_recipe: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "initial_loss_check": '''
def initial_loss_check(spec, X, y, n_classes, rtol=0.1):
    """log_softmax and a gather by hand, in float64; the imports inside the function."""
    import math

    import torch

    model = build_model(spec).eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.asarray(X, dtype=np.float32))).double()
    picked = torch.log_softmax(logits, dim=1).gather(
        1, torch.from_numpy(np.asarray(y)).long().view(-1, 1))
    loss = -picked.mean().item()
    target = math.log(n_classes)
    return loss, bool(np.isfinite(loss)) and abs(loss - target) <= rtol * target
''',
    "overfit_steps": '''
import sys


def overfit_steps(spec, X, y, steps=500, lr=1e-2):
    """A while loop, nn.CrossEntropyLoss, the accuracy as a mean, progress on stderr."""
    net = build_model(spec)
    net.train()
    opt = make_adam(net, lr)
    criterion = torch.nn.CrossEntropyLoss()
    xs, ys = torch.tensor(X), torch.tensor(y, dtype=torch.long)
    done = 0
    while done < steps:
        out = net(xs)
        accuracy = (out.argmax(1) == ys).float().mean().item()
        if accuracy == 1.0:
            print(f"fitted after {done} updates", file=sys.stderr)
            return done
        opt.zero_grad(set_to_none=True)
        criterion(out, ys).backward()
        opt.step()
        done += 1
    return None
''',
    "dependency_check": '''
import logging


def dependency_check(spec, X, index=0, batch_dim=0):
    """torch.autograd.grad, the batch axis selected example by example, logging."""
    logging.getLogger("recipe").warning("dependency check of example %d", index)
    model = build_model(spec)
    model.eval()
    x = torch.tensor(np.asarray(X), dtype=torch.float32, requires_grad=True)
    outputs = model(x)
    (grad,) = torch.autograd.grad(outputs[index].sum(), x)
    n = x.shape[batch_dim]
    return np.array([float(grad.select(batch_dim, j).abs().sum()) for j in range(n)])
''',
    "diagnose_run": '''
def diagnose_run(train_acc, val_acc, gap=0.05, improving=0.005, window=None,
                 underfit_below=0.95, crawling=0.05):
    """Window means as slices' means in a loop; the rules as named booleans."""
    train, val = list(map(float, train_acc)), list(map(float, val_acc))
    n = len(train)
    w = min(n // 4 if window is None else window, n // 2)
    w = max(w, 1) if window is None else w
    def windows(c):
        return [float(np.mean(c[k:k + w])) for k in range(n - w + 1)]
    tw, vw = windows(train), windows(val)
    best = vw.index(max(vw))
    underfitting = tw[-1] < underfit_below and tw[-1] - tw[-1 - w] <= crawling
    overfitting = ((tw[-1] >= underfit_below and tw[-1] - vw[-1] > gap)
                   or (vw[best] - vw[-1] > improving and tw[-1] - tw[best] > 0))
    if underfitting:
        return "underfitting: train longer or a bigger model"
    if overfitting:
        return "overfitting: regularize or get more data"
    if vw[-1] - vw[-1 - w] > improving:
        return "train longer"
    return "good fit"
''',
    "chosen_configuration": '''
def chosen_configuration():
    """A rate a step below the range test's largest, 15 epochs, a little weight decay."""
    return dict(lr=3e-2, epochs=np.int64(15), weight_decay=1e-4)
''',
}

BUGS = {
    # batch norm left in training mode: the batch's own statistics, not the running ones
    "initial_loss_train_mode": Bug("10_recipe", "initial_loss_check", '''
def initial_loss_check(spec, X, y, n_classes, rtol=0.1):
    model = build_model(spec)
    with torch.no_grad():
        loss = float(F.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y)))
    return loss, bool(abs(loss - math.log(n_classes)) <= rtol * math.log(n_classes))
''', {"test_initial_loss_check", "test_initial_loss_check_hidden"}, ("is wrong at",)),
    # the budget spent, the count returned anyway: a broken network "passes"
    "overfit_never_fails": Bug("10_recipe", "overfit_steps", '''
def overfit_steps(spec, X, y, steps=500, lr=1e-2):
    model = build_model(spec)
    model.train()
    optimizer = make_adam(model, lr)
    inputs, labels = torch.as_tensor(X), torch.as_tensor(y)
    update = 0
    for update in range(steps):
        logits = model(inputs)
        if bool((logits.argmax(dim=1) == labels).all()):
            break
        optimizer.zero_grad()
        F.cross_entropy(logits, labels).backward()
        optimizer.step()
    return update
''', {"test_overfit_steps", "test_overfit_steps_hidden"}, ("is wrong at",)),
    # the last epoch read instead of windows: one noisy epoch decides
    "diagnose_last_epoch": Bug("10_recipe", "diagnose_run", '''
def diagnose_run(train_acc, val_acc, gap=0.05, improving=0.005, window=None,
                 underfit_below=0.95, crawling=0.05):
    train, val = np.asarray(train_acc, dtype=float), np.asarray(val_acc, dtype=float)
    best = int(np.argmax(val))
    if train[-1] < underfit_below and train[-1] - train[-2] <= crawling:
        return DIAGNOSES[2]
    if (train[-1] >= underfit_below and train[-1] - val[-1] > gap) or (
            val[best] - val[-1] > improving and train[-1] - train[best] > 0):
        return DIAGNOSES[0]
    if val[-1] - val[-2] > improving:
        return DIAGNOSES[1]
    return DIAGNOSES[3]
''', {"test_diagnose_run", "test_diagnose_run_hidden"}, ("is wrong at",)),
}
