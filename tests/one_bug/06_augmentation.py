"""A submission to assignment 06 with exactly one function wrong.

The classic slip of Mixup: each image's partner drawn with replacement (``rng.integers``)
instead of from a permutation of the batch. Some images are then never anybody's partner and
others are used twice, and an image may be paired with itself. The blends and their labels
agree with the drawn parameters, so only the check that ``index`` is a permutation catches
it. Only mixup's two test cells may lose points.
"""

CELL = "mixup"
SOURCE = '''
def mixup(x, y, alpha=0.2, rng=None, *, num_classes=None, params=None):
    """Partners drawn independently, with replacement."""
    n = x.shape[0]
    if params is None:
        lam = rng.beta(alpha, alpha, size=n)
        index = rng.integers(0, n, size=n)
    else:
        lam = np.asarray(params["lam"], dtype=float)
        index = np.asarray(params["index"]).astype(int)
    targets = np.eye(num_classes)[np.asarray(y)]
    w = lam[:, None, None, None]
    return (w * x + (1 - w) * x[index], lam[:, None] * targets + (1 - lam[:, None]) * targets[index],
            {"lam": lam, "index": index})
'''
LOSES = {"test_mixup", "test_mixup_hidden"}
