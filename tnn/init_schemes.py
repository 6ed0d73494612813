"""Topic 03, the lecture's experiment: five initialization schemes on one deep network.

Seven layers of width 4096 (six weight matrices), a batch of 16 standard-normal inputs, and
``h_l = f(h_{l-1} W_l)`` with one of five initializations (:data:`LECTURE_SCHEMES`). The
per-layer reference means and standard deviations are in :data:`LECTURE_FIGURES` (the tests
reproduce them within 0.03); :data:`FIGURE_SOURCES` says which rows the slides print and
which come from a measurement or from theory. Every scheme rescales the same unit-normal
matrices, and each run is the shared layer probe, :func:`tnn.layerstats.layer_stats`.
:mod:`tnn.initialization` re-exports everything here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tnn._validate import (
    _describe,
    as_float_array,
    as_float_tensor,
    check_choice,
    check_generator,
    check_int,
    check_positive,
    check_rng,
)
from tnn.activations import ACTIVATIONS
from tnn.initializers import gain
from tnn.layerstats import LayerStats, layer_stats, layer_stats_torch

__all__ = [
    "InitScheme",
    "LECTURE_SCHEMES",
    "LECTURE_FIGURES",
    "FIGURE_SOURCES",
    "statistics_dict",
    "sample_experiment",
    "sample_experiment_torch",
    "scheme_weights",
    "scheme_weights_torch",
    "init_experiment",
    "init_experiment_torch",
]


# --------------------------------------------------------------------------------------------
# The schemes of the lecture's experiment
# --------------------------------------------------------------------------------------------
_INITS = ("fixed", "xavier", "kaiming")


@dataclass(frozen=True)
class InitScheme:
    """One row of the lecture's experiment: an activation and a rule for the weight std.

    Attributes
    ----------
    activation : str
        A key of :data:`tnn.activations.ACTIVATIONS` ("tanh", "relu", ...).
    init : {"fixed", "xavier", "kaiming"}
        "fixed": std = ``scale`` whatever the width (``0.01 * randn``);
        "xavier": std = ``scale / sqrt(fan_in)``; "kaiming": std = ``scale * sqrt(2 / fan_in)``.
    scale : float > 0, default 1
    """

    activation: str
    init: str
    scale: float = 1.0

    def __post_init__(self):
        check_choice(self.activation, "activation", tuple(ACTIVATIONS))
        check_choice(self.init, "init", _INITS)
        check_positive(self.scale, "scale")

    def std(self, fan_in: int) -> float:
        """The weight standard deviation for a layer with ``fan_in`` inputs."""
        if self.init == "fixed":
            return float(self.scale)
        if self.init == "xavier":
            return self.scale / math.sqrt(fan_in)
        return self.scale * gain("relu") / math.sqrt(fan_in)

    @property
    def label(self) -> str:
        """Short name, e.g. ``tanh, 0.05*randn`` or ``relu, Kaiming``."""
        if self.init == "fixed":
            rule = f"{self.scale:g}*randn"
        else:
            rule = self.init.capitalize() + (f" x{self.scale:g}" if self.scale != 1 else "")
        return f"{self.activation}, {rule}"


LECTURE_SCHEMES = (
    InitScheme("tanh", "fixed", 0.01),
    InitScheme("tanh", "fixed", 0.05),
    InitScheme("tanh", "xavier"),
    InitScheme("relu", "xavier"),
    InitScheme("relu", "kaiming"),
)

# Per-layer reference figures (layers 1..6) for the five schemes. Only three rows are printed
# on the source lecture's slides; :data:`FIGURE_SOURCES` says where each row comes from.
# "tanh, 0.01*randn": the slide shows only histograms collapsing to 0; these are what the
# experiment gives (the tests hold them within 0.03 too). "relu, Kaiming": the slide says
# "stable"; these are the fixed point, Var(z) = 2 and E[h^2] = 1, so mean
# sqrt(2) / sqrt(2 pi) = sqrt(1/pi) = 0.564 and std sqrt(1 - 1/pi) = 0.826.
LECTURE_FIGURES = {
    "tanh, 0.01*randn": {"mean": (0.0,) * 6, "std": (0.49, 0.29, 0.18, 0.11, 0.07, 0.05)},
    "tanh, 0.05*randn": {"mean": (0.0,) * 6, "std": (0.87, 0.85, 0.85, 0.85, 0.85, 0.85)},
    "tanh, Xavier": {"mean": (0.0,) * 6, "std": (0.63, 0.49, 0.41, 0.36, 0.32, 0.30)},
    "relu, Xavier": {"mean": (0.39, 0.28, 0.20, 0.14, 0.10, 0.07),
                     "std": (0.58, 0.41, 0.30, 0.21, 0.15, 0.10)},
    "relu, Kaiming": {"mean": (math.sqrt(1 / math.pi),) * 6,
                      "std": (math.sqrt(1 - 1 / math.pi),) * 6},
}

#: Where each row of :data:`LECTURE_FIGURES` comes from, for tables that print them.
FIGURE_SOURCES = {
    "tanh, 0.01*randn": "measured; the slide shows histograms only",
    "tanh, 0.05*randn": "slide",
    "tanh, Xavier": "slide",
    "relu, Xavier": "slide",
    "relu, Kaiming": "theory; the slide says 'stable'",
}


def _as_scheme(scheme) -> InitScheme:
    if isinstance(scheme, InitScheme):
        return scheme
    if isinstance(scheme, tuple | list) and 2 <= len(scheme) <= 3:
        return InitScheme(*scheme)
    raise TypeError(
        f"scheme must be an InitScheme or a tuple (activation, init[, scale]) such as "
        f"('relu', 'kaiming'); got {_describe(scheme)}."
    )



def statistics_dict(stats: LayerStats) -> dict:
    """The dict of :func:`layer_statistics` from a :class:`tnn.layerstats.LayerStats`."""
    out = {
        "mean": stats.mean,
        "std": stats.std,
        "pre_mean": stats.pre_mean,
        "pre_std": stats.pre_std,
        "hist": stats.hist,
        "activations": stats.activations,
        "sq_mean": stats.sq_mean,
    }
    if stats.grad_std is not None:
        out["grad_std"] = stats.grad_std
        out["weight_grad_std"] = stats.weight_grad_std
    return out


# --------------------------------------------------------------------------------------------
# The experiment: one batch, one set of unit-normal weights, rescaled per scheme
# --------------------------------------------------------------------------------------------
def sample_experiment(rng, depth: int = 6, width: int = 4096, batch: int = 16,
                      dtype=np.float32) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sample the lecture's input batch and ``depth`` unit-normal (width, width) matrices.

    Every scheme of the experiment rescales the same unit-normal matrices, so the schemes
    differ only in their scale, and the sampling (the slow part on a CPU) happens once.

    Parameters
    ----------
    rng : np.random.Generator
    depth : int, default 6 (weight matrices: 7 layers counting the input)
    width : int, default 4096
    batch : int, default 16
    dtype : np.float32 (default) or np.float64

    Returns
    -------
    x : ndarray of shape (batch, width), standard normal
    unit_weights : list of ``depth`` ndarrays of shape (width, width), standard normal
    """
    check_rng(rng)
    depth, width, batch = (check_int(v, n) for v, n in
                           ((depth, "depth"), (width, "width"), (batch, "batch")))
    x = rng.standard_normal((batch, width), dtype=dtype)  # (N, D)
    unit = [rng.standard_normal((width, width), dtype=dtype) for _ in range(depth)]  # (D, D)
    return x, unit


def sample_experiment_torch(generator, depth: int = 6, width: int = 4096, batch: int = 16,
                            dtype=torch.float32):
    """Torch twin of :func:`sample_experiment`, sampled on ``generator``'s device."""
    check_generator(generator)
    depth, width, batch = (check_int(v, n) for v, n in
                           ((depth, "depth"), (width, "width"), (batch, "batch")))
    kw = {"generator": generator, "dtype": dtype, "device": generator.device}
    x = torch.randn((batch, width), **kw)
    return x, [torch.randn((width, width), **kw) for _ in range(depth)]


def scheme_weights(unit_weights: Sequence, scheme) -> list[np.ndarray]:
    """Rescale unit-normal matrices ``(D_in, D_out)`` to the scheme's std ``std(D_in)``."""
    scheme = _as_scheme(scheme)
    out = []
    for i, u in enumerate(unit_weights):
        u = as_float_array(u, f"unit_weights[{i}]")
        out.append(u * u.dtype.type(scheme.std(u.shape[0])))  # (D_in, D_out), u's dtype
    return out


def scheme_weights_torch(unit_weights: Sequence, scheme) -> list[torch.Tensor]:
    """Torch twin of :func:`scheme_weights`."""
    scheme = _as_scheme(scheme)
    return [as_float_tensor(u, f"unit_weights[{i}]") * scheme.std(u.shape[0])
            for i, u in enumerate(unit_weights)]


def init_experiment(x, unit_weights: Sequence, schemes=LECTURE_SCHEMES, backward: bool = False,
                    bins: int = 50, dout=None) -> dict:
    """Run the layer probe (:func:`tnn.layerstats.layer_stats`) for every scheme on the same
    batch and unit weights; each result has :func:`layer_statistics`' keys.

    Layer l of a scheme uses ``scheme.std(D_in) * unit_weights[l]``, applied through
    ``scales`` so that the large matrices are never copied.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    unit_weights : sequence of L ndarrays of shape (D, D), standard normal
    schemes : sequence of InitScheme (or ``(activation, init[, scale])`` tuples)
    backward : bool
        Also run the backward pass from the upstream gradient ``dout`` and add ``grad_std``
        (L,): the std of ``dL/dh`` at each layer's input, ``grad_std[0]`` at the network
        input, and ``weight_grad_std`` (L,): the std of the entries of ``dL/dW_l``.
    bins : int
    dout : ndarray of shape (N, D_L), optional
        ``dL/dh_L``; ones (loss = sum of the outputs) when omitted. A standard-normal
        ``dout``, independent of the forward pass, isolates what the weights do to gradients.

    Returns
    -------
    results : dict mapping ``scheme.label`` to the dict of :func:`layer_statistics`, plus
        ``scheme``
    """
    x = as_float_array(x)
    unit = [as_float_array(u, f"unit_weights[{i}]") for i, u in enumerate(unit_weights)]
    if backward and dout is None:
        dout = np.ones((x.shape[0], unit[-1].shape[1]), dtype=x.dtype)
    results = {}
    for scheme in schemes:
        scheme = _as_scheme(scheme)
        scales = [scheme.std(u.shape[0]) for u in unit]
        stats = statistics_dict(layer_stats(x, unit, scheme.activation, scales=scales,
                                             bins=check_int(bins, "bins"),
                                             dout=dout if backward else None))
        stats["scheme"] = scheme
        results[scheme.label] = stats
    return results


def init_experiment_torch(x, unit_weights: Sequence, schemes=LECTURE_SCHEMES,
                          backward: bool = False, bins: int = 50, dout=None) -> dict:
    """Torch twin of :func:`init_experiment`, on ``x``'s device (autograd for ``backward``)."""
    x = as_float_tensor(x)
    unit = [as_float_tensor(u, f"unit_weights[{i}]", like=x) for i, u in enumerate(unit_weights)]
    if backward and dout is None:
        dout = torch.ones((x.shape[0], unit[-1].shape[1]), dtype=x.dtype, device=x.device)
    results = {}
    for scheme in schemes:
        scheme = _as_scheme(scheme)
        scales = [scheme.std(u.shape[0]) for u in unit]
        stats = statistics_dict(layer_stats_torch(x, unit, scheme.activation, scales=scales,
                                                   bins=check_int(bins, "bins"),
                                                   dout=dout if backward else None))
        stats["scheme"] = scheme
        results[scheme.label] = stats
    return results
