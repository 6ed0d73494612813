"""A submission to assignment 04 with exactly one function wrong.

The classic slip: L1's subgradient written as "+lam for w >= 0, -lam otherwise", which gives a
weight that is exactly 0 a push of +lam instead of the convention's sign(0) = 0. Every
non-zero weight is right and the value is right; the zeros in the tests catch it. The elastic
net and the SGD step call l1_penalty, but while they are graded the course's l1_penalty stands
in for this one, so only l1_penalty's two test cells may lose points.
"""

CELL = "l1_penalty"
SOURCE = '''
def l1_penalty(w, lam):
    """L1 penalty lam * sum(|w|) and its subgradient."""
    w = np.asarray(w)
    return lam * float(np.sum(np.abs(w))), np.where(w >= 0, lam, -lam)
'''
LOSES = {"test_l1_penalty", "test_l1_penalty_hidden"}
