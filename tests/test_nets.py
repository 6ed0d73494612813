"""The shared training loop and data splits (tnn/nets.py, tnn/data.py) that topics build on."""

import numpy as np
import pytest
import torch

from tnn.data import small_digits
from tnn.nets import make_mlp, train_classifier


def test_small_digits_is_stratified_disjoint_and_repeatable():
    a = small_digits(np.random.default_rng(3), n_train=200, n_val=500)
    b = small_digits(np.random.default_rng(3), n_train=200, n_val=500)
    assert a["train"].X.shape == (200, 64) and a["val"].X.shape == (500, 64)
    assert np.bincount(a["train"].y, minlength=10).tolist() == [20] * 10
    assert 0.0 <= a["train"].X.min() and a["train"].X.max() <= 1.0
    np.testing.assert_array_equal(a["train"].X, b["train"].X)
    train_rows = {row.tobytes() for row in a["train"].X}
    val_rows = [row.tobytes() for row in a["val"].X]
    # digits holds a few duplicate images; the split itself must not reuse an index
    assert sum(r in train_rows for r in val_rows) <= 5
    c = small_digits(np.random.default_rng(4), n_train=200, n_val=500)
    assert not np.array_equal(a["train"].X, c["train"].X)


@pytest.mark.parametrize("bad", [dict(n_train=5), dict(n_val=0), dict(n_train=1500, n_val=400)])
def test_small_digits_rejects_impossible_sizes(bad):
    with pytest.raises(ValueError, match="n_train"):
        small_digits(np.random.default_rng(0), **bad)


def test_penalty_hook_equals_sgd_weight_decay():
    """(lambda/2)·sum(theta^2) added to the loss and SGD's weight_decay=lambda take the same
    steps (L2 regularization is weight decay under plain SGD)."""
    split = small_digits(np.random.default_rng(0), n_train=60, n_val=40)
    args = (split["train"].X, split["train"].y, split["val"].X, split["val"].y)
    lam, runs = 0.05, []
    for kwargs in (dict(weight_decay=lam),
                   dict(penalty=lambda m: 0.5 * lam * sum((p ** 2).sum() for p in m.parameters()))):
        torch.manual_seed(1)
        model = make_mlp([64, 16, 10])
        history = train_classifier(model, *args, epochs=3, lr=0.1, batch_size=20, progress=False,
                                   **kwargs)
        runs.append((history, [p.detach().clone() for p in model.parameters()]))
    (h1, p1), (h2, p2) = runs
    for a, b in zip(p1, p2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.val_loss, h2.val_loss, rtol=1e-5)
    # and the penalty really acts: without it the weights end elsewhere
    torch.manual_seed(1)
    plain = make_mlp([64, 16, 10])
    train_classifier(plain, *args, epochs=3, lr=0.1, batch_size=20, progress=False)
    assert max((a - b).abs().max().item() for a, b in zip(plain.parameters(), p1, strict=True)) > 1e-3
