"""A submission to assignment 01 with exactly one function wrong.

The classic slip: differentiating the sigmoid as s * (1 - x) instead of s * (1 - s).
Only sigmoid_grad's two test cells may lose points.
"""

CELL = "sigmoid_grad"
SOURCE = '''
def sigmoid_grad(x):
    """Derivative of the sigmoid, elementwise."""
    s = sigmoid(x)
    return s * (1.0 - x)
'''
LOSES = {"test_sigmoid_grad", "test_sigmoid_grad_hidden"}

# A correct answer that is noisy on stderr: a NumPy RuntimeWarning, a UserWarning like those
# torch emits, and warning text written straight to stderr (as C code does). It must keep
# full marks: nbgrader would otherwise score any stderr output in a test cell as a failure.
NOISY_CELL = "tanh_grad"
NOISY_SOURCE = '''
import sys
import warnings

def tanh_grad(x):
    """Derivative of tanh, elementwise."""
    x = np.asarray(x)
    with np.errstate(all="warn"):
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero encountered in log
    warnings.warn("this overload is deprecated", UserWarning)
    print("UserWarning: written to stderr directly", file=sys.stderr)
    return 1.0 - np.tanh(x) ** 2
'''
