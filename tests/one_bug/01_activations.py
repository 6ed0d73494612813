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
