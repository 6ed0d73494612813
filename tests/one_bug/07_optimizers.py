"""A submission to assignment 07 with exactly one function wrong.

The classic slip: one set of moments for the whole network. The student's adam_step keeps a
single m and v and feeds every parameter through them, so parameters of the same shape mix
their gradient histories (and parameters of other shapes broadcast or fail). adam_rule is
right, and while adam_step is graded the course's adam_rule stands in for it anyway, so only
adam_step's two test cells may lose points.
"""

CELL = "adam_step"
SOURCE = '''
def adam_step(params, grads, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step of every parameter, with one shared set of moments."""
    if state is None:
        state = {"t": 0, "slots": {}}
    t = state["t"] + 1
    slots, new_params = state["slots"], {}
    for name, p in params.items():
        if slots and np.shape(slots["m"]) != np.shape(p):
            slots = {}
        new_params[name], slots = adam_rule(p, grads[name], slots, t, lr=lr, beta1=beta1,
                                            beta2=beta2, eps=eps)
    return new_params, {"t": t, "slots": slots}
'''
LOSES = {"test_adam_step", "test_adam_step_hidden"}
