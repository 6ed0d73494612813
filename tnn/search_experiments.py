"""Lecture 09's search experiments on digits, each a real population of trained MLPs
(:mod:`tnn.population`), searched with the samplers of :mod:`tnn.search`.

- :func:`pool_study`: a pool of quasi-random trials over learning rate, weight decay and
  dropout (AdamW, 10 epochs on the full digits split): the axis plots, the edge check, the
  best-of-N budget figure.
- :func:`narrow_study`: the same search with the learning rate's range cut at 2e-3, where
  the best trials crowd against the upper end and the edge check says "widen".
- :func:`roles_study`: "does dropout help?" on 200 training digits, with the learning rate a
  nuisance parameter re-tuned for each arm, against the same comparison at one fixed rate.
- :func:`adam_budget_study`: pools over lr; lr + beta1; lr + beta1 + eps (the playbook's
  order for small, medium and larger budgets) and their best-of-N medians.
- :func:`variance_study`: the best trial rerun with other training seeds, other data splits,
  and the whole search rerun with other sampler seeds.

Each runs in a few seconds on one CPU thread (:func:`tnn.device.few_threads`); the lecture
prints what every one measured, and tests/test_search.py asserts the claims over seeds.
"""

from __future__ import annotations

import numpy as np

from tnn._validate import check_int
from tnn.data import small_digits
from tnn.optim_experiments import digits_01
from tnn.population import train_population
from tnn.search import (
    Axis,
    SearchSpace,
    best_of_n_summary,
    edge_of_space_check,
    quasi_random_search,
)

__all__ = ["LECTURE", "POOL_SPACE", "NARROW_SPACE", "ADAM_SPACES", "final_scores", "pool_study",
           "narrow_study", "roles_study", "adam_budget_study", "variance_study"]

#: The lecture's settings: every trial trains 10 epochs of 16 updates (1079 digits, batches
#: of 64) with AdamW; the roles study uses 200 training digits, batches of 32, 40 epochs.
LECTURE = {"epochs": 10, "batch_size": 64, "pool_size": 128, "narrow_size": 64,
           "budgets": (6, 20), "adam_pool_size": 64, "adam_budgets": (5, 15, 30),
           "roles_lrs": tuple(float(v) for v in np.logspace(-4, -1, 10)),
           "roles_dropout": (0.0, 0.5), "roles_seeds": 4, "roles_epochs": 40,
           "roles_batch_size": 32, "fixed_lr": 1e-3, "reruns": 8, "search_trials": 20}

#: The pool's search space (log scales for the rates, linear for the dropout rate).
POOL_SPACE = SearchSpace((Axis("lr", 1e-4, 1e-1, "log"), Axis("weight_decay", 1e-4, 1.0, "log"),
                          Axis("dropout", 0.0, 0.7, "linear")))

#: The pool's space with the learning rate cut at 2e-3: too narrow.
NARROW_SPACE = SearchSpace((Axis("lr", 1e-4, 2e-3, "log"), *POOL_SPACE.axes[1:]))

#: The playbook's Adam spaces: lr alone; lr and beta1; lr, beta1 and eps.
ADAM_SPACES = {
    "lr": SearchSpace((Axis("lr", 1e-4, 1e-1, "log"),)),
    "lr, beta1": SearchSpace((Axis("lr", 1e-4, 1e-1, "log"), Axis("beta1", 0.5, 0.99))),
    "lr, beta1, eps": SearchSpace((Axis("lr", 1e-4, 1e-1, "log"), Axis("beta1", 0.5, 0.99),
                                   Axis("eps", 1e-10, 1.0, "log"))),
}


def final_scores(result: dict) -> np.ndarray:
    """Each trial's validation accuracy after its last epoch, shape (trials,)."""
    return np.asarray(result["val_acc"])[:, -1]


def _train(trials, split, **kwargs):
    settings = {"epochs": LECTURE["epochs"], "batch_size": LECTURE["batch_size"], **kwargs}
    return train_population(trials, split, **settings)


def pool_study(split_seed: int = 0, *, n_trials: int = LECTURE["pool_size"],
               budgets=LECTURE["budgets"], device="cpu") -> dict:
    """A pool of ``n_trials`` quasi-random trials over :data:`POOL_SPACE`, trained on
    ``digits_01(split_seed)`` (the sampler seeded with ``split_seed`` too).

    Returns ``{"trials", "scores", "result", "edge", "budget"}``: the trials, their final
    validation accuracies, the population's full result, the edge check's messages and
    :func:`tnn.search.best_of_n_summary` for ``budgets``.
    """
    trials = quasi_random_search(POOL_SPACE, n_trials, np.random.default_rng(split_seed))
    result = _train(trials, digits_01(split_seed), device=device)
    scores = final_scores(result)
    return {"trials": trials, "scores": scores, "result": result,
            "edge": edge_of_space_check(POOL_SPACE, trials, scores, goal="maximize"),
            "budget": best_of_n_summary(scores, np.random.default_rng(split_seed),
                                        goal="maximize", n_trials=budgets)}


def narrow_study(split_seed: int = 0, *, n_trials: int = LECTURE["narrow_size"],
                 device="cpu") -> dict:
    """:func:`pool_study`'s search over :data:`NARROW_SPACE`: ``{"trials", "scores",
    "edge"}``."""
    trials = quasi_random_search(NARROW_SPACE, n_trials, np.random.default_rng(split_seed))
    scores = final_scores(_train(trials, digits_01(split_seed), device=device))
    return {"trials": trials, "scores": scores,
            "edge": edge_of_space_check(NARROW_SPACE, trials, scores, goal="maximize")}


def roles_study(split_seed: int = 0, *, device="cpu") -> dict:
    """Does dropout help? Each arm (:data:`LECTURE` ``roles_dropout``) trains at every rate of
    ``roles_lrs`` with ``roles_seeds`` training seeds on ``small_digits`` (200 train, 500
    val), weight decay fixed at 0.

    Returns ``{"lrs", "dropout", "acc"}`` with ``acc`` of shape (arms, rates): the final
    validation accuracy averaged over the seeds; and for each comparison the two arms'
    scores: ``"retuned"`` (each arm at its own best rate: ``"best_lr"`` per arm) and
    ``"fixed"`` (both at ``fixed_lr``).
    """
    lrs, arms, n_seeds = LECTURE["roles_lrs"], LECTURE["roles_dropout"], LECTURE["roles_seeds"]
    split = small_digits(np.random.default_rng(split_seed), n_train=200, n_val=500)
    trials = [{"lr": lr, "dropout": p, "seed": s} for p in arms for lr in lrs
              for s in range(n_seeds)]
    result = _train(trials, split, epochs=LECTURE["roles_epochs"],
                    batch_size=LECTURE["roles_batch_size"], device=device)
    acc = final_scores(result).reshape(len(arms), len(lrs), n_seeds).mean(axis=2)
    best = acc.argmax(axis=1)
    fixed = int(np.argmin(np.abs(np.log(np.array(lrs) / LECTURE["fixed_lr"]))))
    return {"lrs": np.array(lrs), "dropout": arms, "acc": acc,
            "best_lr": np.array(lrs)[best], "retuned": acc[np.arange(len(arms)), best],
            "fixed_lr": lrs[fixed], "fixed": acc[:, fixed]}


def adam_budget_study(split_seed: int = 0, *, n_trials: int = LECTURE["adam_pool_size"],
                      budgets=LECTURE["adam_budgets"], device="cpu") -> dict:
    """One pool per space of :data:`ADAM_SPACES` (quasi-random, ``n_trials`` each, on
    ``digits_01(split_seed)``, weight decay 0, no dropout).

    Returns ``{space name: {"trials", "scores", "budget"}}`` with the best-of-N summary for
    each of ``budgets``.
    """
    split = digits_01(split_seed)
    names = list(ADAM_SPACES)
    per_space = [quasi_random_search(ADAM_SPACES[name], n_trials,
                                     np.random.default_rng(100 + split_seed)) for name in names]
    scores = final_scores(_train([t for ts in per_space for t in ts], split, device=device))
    out = {}
    for k, (name, trials) in enumerate(zip(names, per_space, strict=True)):
        s = scores[k * n_trials:(k + 1) * n_trials]
        out[name] = {"trials": trials, "scores": s,
                     "budget": best_of_n_summary(s, np.random.default_rng(split_seed),
                                                 goal="maximize", n_trials=budgets)}
    return out


def variance_study(best: dict, split_seed: int = 0, *, reruns: int = LECTURE["reruns"],
                   search_trials: int = LECTURE["search_trials"], device="cpu") -> dict:
    """Three sources of variance around a search's best trial ``best`` (its hyperparameters).

    - ``"training seed"``: ``best`` retrained on the same split with seeds ``1 .. reruns``
      (initial weights, batch order, dropout masks; the search trained every trial with
      seed 0);
    - ``"data split"``: ``best`` retrained with seed 0 on ``digits_01(s)`` for ``reruns``
      other splits ``s`` (the split the search used excluded);
    - ``"search seed"``: the whole search (``search_trials`` quasi-random trials over
      :data:`POOL_SPACE`) rerun with ``reruns`` other sampler seeds; the best score of each.

    Returns ``{source: scores of shape (reruns,)}``.
    """
    reruns = check_int(reruns, "reruns", minimum=2)
    split = digits_01(split_seed)
    hyper = {k: v for k, v in best.items() if k != "seed"}
    seeds = final_scores(_train([{**hyper, "seed": s} for s in range(1, reruns + 1)], split,
                                device=device))
    other = [s for s in range(reruns + 1) if s != split_seed][:reruns]
    splits = np.array([final_scores(_train([{**hyper, "seed": 0}], digits_01(s),
                                           device=device))[0] for s in other])
    searches = [quasi_random_search(POOL_SPACE, search_trials,
                                    np.random.default_rng(1000 + s)) for s in range(reruns)]
    flat = final_scores(_train([t for ts in searches for t in ts], split, device=device))
    return {"training seed": seeds, "data split": splits,
            "search seed": flat.reshape(reruns, search_trials).max(axis=1)}
