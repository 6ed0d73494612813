"""A submission to assignment 03 with exactly one function wrong.

The classic slip: a convolution's fan-in counted as the kernel area only, forgetting the input
channels (k_h * k_w instead of C_in * k_h * k_w), which makes every conv weight sqrt(C_in)
times too large. Only fan_in's own tests fail: while xavier_normal and kaiming_normal are
checked, the grader lets the reference fan_in stand in for the student's (one bug costs one
question), and nothing else uses fan_in.
"""

CELL = "fan_in"
SOURCE = '''
def fan_in(shape):
    """Number of inputs per output for a (D_in, D_out) or (C_out, C_in, k_h, k_w) weight."""
    if len(shape) == 2:
        return int(shape[0])
    return int(shape[2] * shape[3])
'''
LOSES = {"test_fan_in", "test_fan_in_hidden"}
