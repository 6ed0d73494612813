"""A submission to assignment 10 with exactly one function wrong.

The classic slip of the dependency check: backpropagating the sum of the whole batch's
outputs instead of example i's. Every example then receives gradient from its own outputs,
so a correct model and one that mixes the batch look alike (every entry non-zero), and the
check can never fail. Only dependency_check's two test cells may lose points.
"""

CELL = "dependency_check"
SOURCE = '''
def dependency_check(spec, X, index=0, batch_dim=0):
    """The loss summed over every example's outputs."""
    model = build_model(spec)
    model.eval()
    inputs = torch.as_tensor(np.array(X, dtype=np.float32)).requires_grad_(True)
    model(inputs).sum().backward()
    grad = inputs.grad.abs().movedim(batch_dim, 0)
    return grad.reshape(grad.shape[0], -1).sum(dim=1).detach().numpy()
'''
LOSES = {"test_dependency_check", "test_dependency_check_hidden"}
