"""A submission to assignment 08 with exactly one function wrong.

The classic slip: clipping each gradient array by its own norm instead of all of them by their
global norm. Every array then ends at most max_norm long, but the update's direction changes
(a small array is scaled up relative to a large one) and the whole gradient can stay far
above the threshold. The returned norm is the global one, so only the clipped values are
wrong; only clip_by_global_norm's two test cells may lose points.
"""

CELL = "clip_by_global_norm"
SOURCE = '''
def clip_by_global_norm(grads, max_norm, eps=1e-6):
    """Clip every gradient array by its own norm."""
    clipped = {}
    for name, g in grads.items():
        norm_g = float(np.sqrt(np.sum(g ** 2)))
        clipped[name] = g * min(1.0, max_norm / (norm_g + eps))
    norm = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values()))
    return clipped, norm
'''
LOSES = {"test_clip_by_global_norm", "test_clip_by_global_norm_hidden"}
