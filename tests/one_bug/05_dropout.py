"""A submission to assignment 05 with exactly one function wrong.

The classic slip: inverted dropout scaled twice. The student scales by 1/keep_prob during
training (correctly, in inverted_dropout_forward) and then also multiplies by keep_prob at
test time, as vanilla dropout does, so an inverted network's test-time activations are
keep_prob times too small. Only dropout_test_time's two test cells may lose points: nothing
else calls it.
"""

CELL = "dropout_test_time"
SOURCE = '''
def dropout_test_time(x, keep_prob, inverted=True):
    """Output of a dropout layer at test time."""
    return x * keep_prob
'''
LOSES = {"test_dropout_test_time", "test_dropout_test_time_hidden"}
