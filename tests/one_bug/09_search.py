"""A submission to assignment 09 with exactly one function wrong.

The classic slip: placing the best trials on a log axis by their linear position. On
[1e-5, 1e-1] the top tenth of the log scale starts at 4e-2, but linearly it starts at 9e-2,
so best trials crowded at 0.05 are not flagged (and ones at 1e-4, 0.09 % of the linear range,
would be flagged low). Linear axes are right, so only edge_of_space_check's two test cells may
lose points.
"""

CELL = "edge_of_space_check"
SOURCE = '''
def edge_of_space_check(space, trials, scores, goal, top_fraction=0.1, edge_fraction=0.1,
                        min_share=0.5):
    """The positions taken on a linear scale, whatever the axis."""
    scores = np.asarray(scores, dtype=float)
    k = max(1, math.ceil(top_fraction * len(trials)))
    order = np.argsort(-scores if goal == "maximize" else scores, kind="stable")[:k]
    flags = []
    for name, low, high, scale in space:
        pos = (np.array([trials[i][name] for i in order], dtype=float) - low) / (high - low)
        if np.mean(pos <= edge_fraction) >= min_share:
            flags.append((name, "low"))
        if np.mean(pos >= 1 - edge_fraction) >= min_share:
            flags.append((name, "high"))
    return flags
'''
LOSES = {"test_edge_of_space_check", "test_edge_of_space_check_hidden"}
