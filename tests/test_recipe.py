"""Topic 10: the recipe's steps and Karpathy's checks, each shown catching a real bug and
passing a correct model (digits, small MLPs, a few seconds each on one CPU thread)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tnn import recipe
from tnn.data import small_digits
from tnn.device import few_threads
from tnn.nets import evaluate, make_mlp, train_classifier
from tnn.optim_experiments import digits_01


@pytest.fixture(scope="module")
def digits():
    split = digits_01(0)
    return split["train"].X, split["train"].y


def _mlp(seed=0, sizes=(64, 64, 10)):
    torch.manual_seed(seed)
    return make_mlp(list(sizes))


# ------------------------------------------------------------------- step 1: the initial loss
def test_initial_loss_is_log_c_for_a_default_init_and_flags_a_scaled_last_layer(digits):
    X, y = digits
    assert recipe.expected_initial_loss(10) == pytest.approx(2.302585, abs=1e-6)
    for seed in range(4):
        check = recipe.check_initial_loss(_mlp(seed), X, y, 10)
        assert check and abs(check.measured["loss"] - math.log(10)) < 0.1, str(check)
    loud = _mlp(0)
    with torch.no_grad():
        loud[-1].weight.mul_(50)  # confident guesses before any training
    check = recipe.check_initial_loss(loud, X, y, 10)
    assert not check and check.measured["loss"] > 5
    assert "last layer" in check.message and "FAIL" in str(check)
    with pytest.raises(ValueError, match="at least 2"):
        recipe.expected_initial_loss(1)
    with pytest.raises(ValueError, match="same length"):
        recipe.initial_loss(_mlp(), X, y[:-1])


# ----------------------------------------------------------------- step 2: overfit a sample
def test_overfit_a_small_sample_passes_and_zero_init_fails(digits):
    X, y = digits
    with few_threads("cpu"):
        for seed in range(3):
            check = recipe.check_overfit(_mlp(seed), X[:20], y[:20])
            assert check and check.measured["steps"] < 200, str(check)
        dead = _mlp(0)
        for p in dead.parameters():
            nn.init.zeros_(p)  # every hidden unit identical and at ReLU's flat zero
        check = recipe.check_overfit(dead, X[:20], y[:20], steps=300)
    assert not check and check.measured["accuracy"] < 0.5
    assert "initialization" in check.message and check.measured["steps"] is None


# -------------------------------------------------------------- step 3: the learning rate
def test_lr_range_test_finds_the_rate_that_drops_the_loss_in_100_iterations(digits):
    """On digits, SGD with momentum: 0.1 drops the loss to ~5 % of its start in 100 updates on
    every seed, 1e-3 and 1e-4 barely move it; the test picks 0.1."""
    X, y = digits
    with few_threads("cpu"):
        for seed in range(3):
            r = recipe.lr_range_test(lambda: make_mlp([64, 64, 10]), X, y, seed=seed)
            assert r["best_lr"] == 0.1, r
            assert r["ratio"][0] < 0.1 and np.all(r["ratio"][2:] > 0.9), r["ratio"]
            assert list(r["significant"]) == [True, False, False, False]
        blown = recipe.lr_range_test(lambda: make_mlp([64, 64, 10]), X, y, lrs=(30.0,),
                                     iters=50)
    assert not blown["significant"][0] and blown["best_lr"] is None
    assert not blown["ratio"][0] < 1  # the loss went up (or became NaN)


# -------------------------------------------------------------------- step 6: the curves
@pytest.mark.parametrize("train, val, label", [
    ([0.6, 0.9, 0.99, 1.0, 1.0, 1.0], [0.55, 0.8, 0.85, 0.86, 0.86, 0.85], 0),
    ([0.8, 0.95, 0.99, 1.0, 1.0, 1.0], [0.8, 0.93, 0.96, 0.95, 0.94, 0.93], 0),  # val falls
    ([0.3, 0.45, 0.6, 0.7, 0.78, 0.86], [0.3, 0.44, 0.58, 0.69, 0.77, 0.84], 1),
    ([0.6, 0.8, 0.9, 0.96, 0.98, 0.99], [0.6, 0.78, 0.87, 0.92, 0.94, 0.96], 1),
    ([0.5, 0.6, 0.62, 0.62, 0.62, 0.62], [0.5, 0.59, 0.61, 0.61, 0.61, 0.61], 2),
    ([0.8, 0.97, 0.99, 0.99, 0.99, 0.99], [0.8, 0.96, 0.97, 0.97, 0.97, 0.97], 3),
])
def test_diagnose_constructed_curves(train, val, label):
    got, evidence = recipe.diagnose_curves(train, val)
    assert got == recipe.DIAGNOSES[label], evidence


def test_diagnose_refuses_bad_curves():
    with pytest.raises(ValueError, match="same length"):
        recipe.diagnose_curves([0.5, 0.6], [0.5])
    with pytest.raises(ValueError, match="finite"):
        recipe.diagnose_curves([0.5, float("nan")], [0.5, 0.6])


def _run(model, split, epochs, lr, seed=0):
    """train_classifier with the training accuracy recorded after every epoch."""
    Xt, yt = (torch.as_tensor(split["train"].X), torch.as_tensor(split["train"].y))

    def record(m, epoch, history):
        if epoch:
            history.extras.setdefault("train_acc", []).append(evaluate(m, Xt, yt)[1])

    h = train_classifier(model, split["train"].X, split["train"].y, split["val"].X,
                         split["val"].y, epochs=epochs, lr=lr, momentum=0.9, seed=seed,
                         progress=False, on_epoch=record)
    return h.extras["train_acc"], h.val_acc


def _tanh_bottleneck(seed):
    torch.manual_seed(seed)
    return make_mlp([64, 2, 10], "tanh")


def test_diagnose_real_runs():
    """100 training digits and a wide MLP trained long: overfitting (train 100 %, val
    0.87-0.93); four epochs at a small rate: train longer; a 2-unit tanh bottleneck trained
    for 80 epochs: underfitting (train ~0.6-0.7, crawling)."""
    with few_threads("cpu"):
        for seed in range(3):
            small = small_digits(np.random.default_rng(seed), n_train=100, n_val=500)
            full = digits_01(seed)
            cases = [(_mlp(seed, (64, 256, 10)), small, 60, 0.1, 0),
                     (_mlp(seed), full, 4, 0.003, 1),
                     (_tanh_bottleneck(seed), full, 80, 0.05, 2)]
            for model, split, epochs, lr, label in cases:
                train, val = _run(model, split, epochs, lr, seed)
                got, evidence = recipe.diagnose_curves(train, val)
                assert got == recipe.DIAGNOSES[label], (seed, label, evidence)


# ------------------------------------------------------------------------ Karpathy's checks
def _tiny_run(X, y, *, seeded: bool):
    def run(seed):
        if seeded:
            torch.manual_seed(seed)
        model = make_mlp([64, 16, 10])
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(20):
            loss = nn.functional.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    return run


def test_same_seed_same_run_catches_an_unseeded_initialization(digits):
    X, y = digits[0][:200], digits[1][:200]
    assert recipe.check_same_seed_same_run(_tiny_run(X, y, seeded=True), seed=3)
    check = recipe.check_same_seed_same_run(_tiny_run(X, y, seeded=False), seed=3)
    assert not check and check.measured["max_difference"] > 0 and "randomness" in check.message


def _baseline_run(split, *, ignore_inputs: bool):
    class Blind(nn.Module):  # the bug: a forward pass that never looks at x
        def __init__(self):
            super().__init__()
            self.net = make_mlp([64, 64, 10])

        def forward(self, x):
            return self.net(torch.zeros_like(x))

    def run(zero_inputs):
        torch.manual_seed(0)
        model = Blind() if ignore_inputs else make_mlp([64, 64, 10])
        X = split["train"].X * (0.0 if zero_inputs else 1.0)
        h = train_classifier(model, X, split["train"].y, split["val"].X * (
            0.0 if zero_inputs else 1.0), split["val"].y, epochs=5, lr=0.1, momentum=0.9,
            progress=False)
        return h.val_loss[-1]
    return run


def test_input_independent_baseline_catches_a_model_that_ignores_its_inputs():
    split = digits_01(0)
    with few_threads("cpu"):
        good = recipe.check_input_independent_baseline(_baseline_run(split, ignore_inputs=False))
        bad = recipe.check_input_independent_baseline(_baseline_run(split, ignore_inputs=True))
    assert good and good.measured["real"] < 0.3 and good.measured["zero"] > 2.2
    assert not bad and "reach the model" in bad.message


def test_prior_bias_removes_the_hockey_stick():
    """1:10 imbalance: b = log(0.1/0.9) = -2.197; the initial loss is then the prior's
    entropy (0.325) instead of log 2 (0.693), which the first updates would only spend
    learning the prior."""
    assert recipe.prior_bias(0.1) == pytest.approx(-2.1972246, abs=1e-7)
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((2000, 20)), dtype=torch.float32)
    y = torch.as_tensor(rng.random(2000) < 0.1, dtype=torch.float32)
    losses = {}
    for name, bias in (("zero", 0.0), ("prior", recipe.prior_bias(0.1))):
        torch.manual_seed(0)
        head = nn.Linear(20, 1)
        with torch.no_grad():
            head.weight.mul_(0.01)
            head.bias.fill_(bias)
        losses[name] = nn.functional.binary_cross_entropy_with_logits(
            head(X).squeeze(1), y).item()
    entropy = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))
    assert losses["prior"] == pytest.approx(entropy, abs=0.02)
    assert losses["zero"] == pytest.approx(math.log(2), abs=0.01)
    b = recipe.softmax_prior_bias([0.5, 0.25, 0.25])
    probs = np.exp(b) / np.exp(b).sum()
    np.testing.assert_allclose(probs, [0.5, 0.25, 0.25])
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            recipe.prior_bias(bad)
    with pytest.raises(ValueError, match="summing to 1"):
        recipe.softmax_prior_bias([0.5, 0.6])


def test_dependency_check_catches_view_instead_of_permute(digits):
    X = recipe.to_time_major(digits[0][:32])
    assert X.shape == (8, 32, 8)
    np.testing.assert_array_equal(X[:, 5].reshape(-1).numpy(), digits[0][5])
    for index in (0, 7, 31):
        torch.manual_seed(0)
        good = recipe.check_batch_independence(recipe.TimeMajorMLP(), X, index=index,
                                               batch_dim=1)
        assert good, str(good)
        torch.manual_seed(0)
        bad = recipe.check_batch_independence(recipe.TimeMajorMLP(bug=True), X, index=index,
                                              batch_dim=1)
        assert not bad and len(bad.measured["mixed_with"]) >= 7 and "permute" in bad.message
    # batch norm mixes a batch only in training mode; the check runs the model in eval mode
    torch.manual_seed(0)
    bn = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    flat = torch.as_tensor(digits[0][:16])
    assert recipe.check_batch_independence(bn, flat, index=4) and bn.training
    with pytest.raises(ValueError, match="index must be in"):
        recipe.check_batch_independence(bn, flat, index=16)


def test_the_view_bug_still_trains(digits):
    """Karpathy's warning: the buggy model trains without any error (its loss falls), so
    only the dependency check finds it; it learns worse than the correct one."""
    X, y = recipe.to_time_major(digits[0]), torch.as_tensor(digits[1])
    final = {}
    with few_threads("cpu"):
        for bug in (False, True):
            torch.manual_seed(0)
            model = recipe.TimeMajorMLP(bug=bug)
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
            for _ in range(100):
                loss = nn.functional.cross_entropy(model(X), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            final[bug] = loss.item()
    assert final[True] < 0.8 * math.log(10)  # it learns something ...
    assert final[False] < final[True]  # ... less than the correct model
