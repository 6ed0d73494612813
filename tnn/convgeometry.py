"""Convolution geometry: output sizes, receptive fields, and AlexNet layer by layer.

Part of topic 03 (:mod:`tnn.initialization` re-exports everything here). A convolution or
pooling layer along one axis is described by its kernel size, stride, padding and dilation;
:func:`conv_output_size` is PyTorch's shape formula and :func:`receptive_fields` the
recurrence ``r_l = r_{l-1} + (k_l - 1) j_{l-1}``, ``j_l = j_{l-1} s_l`` (``j`` is the
distance, in input pixels, between neighbouring outputs of a layer).
:data:`ALEXNET_CAFFE` and :data:`ALEXNET_TORCHVISION` are the two AlexNets as tables, which
:func:`alexnet_shape_table` walks and :func:`alexnet_torch` builds from ``torch.nn`` layers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch

from tnn._validate import _describe, check_choice, check_int

__all__ = [
    "conv_output_size",
    "receptive_field_step",
    "receptive_field",
    "receptive_fields",
    "ALEXNET_CAFFE",
    "ALEXNET_TORCHVISION",
    "alexnet_shape_table",
    "alexnet_torch",
    "torch_output_shapes",
]


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's formula).

    ``floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride + 1)``: the output
    is rounded *down*, so input pixels that do not fill a last window are ignored.

    Parameters
    ----------
    size : int >= 1, the input length ``H_in``
    kernel_size, stride, dilation : int >= 1
    padding : int >= 0

    Returns
    -------
    out : int >= 1
    """
    size = check_int(size, "size")
    kernel_size = check_int(kernel_size, "kernel_size")
    stride = check_int(stride, "stride")
    padding = check_int(padding, "padding", minimum=0)
    dilation = check_int(dilation, "dilation")
    span = dilation * (kernel_size - 1) + 1  # input pixels one window covers
    if size + 2 * padding < span:
        raise ValueError(
            f"the window (kernel_size={kernel_size}, dilation={dilation}: {span} pixels) is "
            f"larger than the padded input ({size} + 2*{padding} = {size + 2 * padding}); use "
            f"a smaller kernel or more padding."
        )
    return (size + 2 * padding - span) // stride + 1


def _layer_ks(layer, i: int) -> tuple[int, int]:
    if isinstance(layer, dict):
        k, s, d = layer.get("kernel_size", 1), layer.get("stride", 1), layer.get("dilation", 1)
    elif isinstance(layer, tuple | list) and len(layer) in (2, 3):
        k, s, d = (*layer, 1) if len(layer) == 2 else layer
    else:
        raise TypeError(
            f"layers[{i}] must be a (kernel_size, stride) pair, a (kernel_size, stride, "
            f"dilation) triple or a dict with those keys; got {_describe(layer)}."
        )
    k, s, d = (check_int(v, f"layers[{i}] {n}") for v, n in
               ((k, "kernel_size"), (s, "stride"), (d, "dilation")))
    return d * (k - 1) + 1, s


def receptive_field_step(field: int, jump: int, span: int, stride: int) -> tuple[int, int]:
    """One layer of the receptive-field recurrence.

    A layer whose window covers ``span`` of its input pixels (``dilation (k - 1) + 1``) and
    moves by ``stride`` widens the field by ``span - 1`` input steps of ``jump`` pixels each:
    ``r_l = r_{l-1} + (span - 1) j_{l-1}``, ``j_l = j_{l-1} stride``.

    Returns
    -------
    field, jump : int
        The receptive field after the layer, and the distance in input pixels between its
        neighbouring outputs.
    """
    return field + (span - 1) * jump, jump * stride


def receptive_fields(layers: Sequence) -> list[int]:
    """Receptive field on the network input after each layer.

    ``r_L = sum_{l=1..L} (k_l - 1) prod_{i<l} s_i + 1``: each layer widens the field by
    ``k_l - 1`` of its own input pixels, and one of those is ``prod_{i<l} s_i`` input pixels
    apart. Padding does not enter; a dilated kernel counts as ``dilation (k - 1) + 1``.

    Parameters
    ----------
    layers : sequence of ``(kernel_size, stride)`` pairs (or triples with dilation, or dicts)

    Returns
    -------
    fields : list of int, one per layer
    """
    r, jump, fields = 1, 1, []
    for i, layer in enumerate(layers):
        k, s = _layer_ks(layer, i)
        r, jump = receptive_field_step(r, jump, k, s)  # r += (k_l - 1) * prod_{i<l} s_i
        fields.append(r)
    return fields


def receptive_field(layers: Sequence) -> int:
    """Receptive field on the input of the whole stack (1 for an empty stack)."""
    fields = receptive_fields(layers)
    return fields[-1] if fields else 1


# AlexNet, layer by layer. Convolutions: out_channels, kernel_size, stride, padding, groups;
# pooling: kernel_size, stride; "lrn" and "dropout" keep the shape; "fc": out_features.
# Caffe's bvlc_alexnet normalizes before it pools (norm1 reads conv1's ReLU output, pool1
# reads norm1); its conv2, conv4 and conv5 have "group: 2" (one half per GPU in the paper).
ALEXNET_CAFFE = (
    {"name": "conv1", "type": "conv", "out_channels": 96, "kernel_size": 11, "stride": 4},
    {"name": "norm1", "type": "lrn"},
    {"name": "pool1", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv2", "type": "conv", "out_channels": 256, "kernel_size": 5, "padding": 2,
     "groups": 2},
    {"name": "norm2", "type": "lrn"},
    {"name": "pool2", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv3", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1},
    {"name": "conv4", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1,
     "groups": 2},
    {"name": "conv5", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1,
     "groups": 2},
    {"name": "pool5", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "fc6", "type": "fc", "out_features": 4096},
    {"name": "fc7", "type": "fc", "out_features": 4096},
    {"name": "fc8", "type": "fc", "out_features": 1000},
)
ALEXNET_TORCHVISION = (
    {"name": "conv1", "type": "conv", "out_channels": 64, "kernel_size": 11, "stride": 4,
     "padding": 2},
    {"name": "pool1", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv2", "type": "conv", "out_channels": 192, "kernel_size": 5, "padding": 2},
    {"name": "pool2", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv3", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1},
    {"name": "conv4", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1},
    {"name": "conv5", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1},
    {"name": "pool5", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "avgpool", "type": "adaptiveavgpool", "output_size": 6},
    {"name": "drop6", "type": "dropout"},
    {"name": "fc6", "type": "fc", "out_features": 4096},
    {"name": "drop7", "type": "dropout"},
    {"name": "fc7", "type": "fc", "out_features": 4096},
    {"name": "fc8", "type": "fc", "out_features": 1000},
)
_LAYER_TYPES = ("conv", "maxpool", "lrn", "adaptiveavgpool", "dropout", "fc")


def alexnet_shape_table(spec: Sequence = ALEXNET_CAFFE, input_size: int = 227,
                        in_channels: int = 3, grouped: bool = False) -> list[dict]:
    """Output shape, parameter count and receptive field of every layer of a spec.

    Parameters
    ----------
    spec : sequence of dict, e.g. :data:`ALEXNET_CAFFE` or :data:`ALEXNET_TORCHVISION`
    input_size : int, the square input's side (227 for Caffe, 224 for torchvision)
    in_channels : int
    grouped : bool, default False
        Count a convolution with ``"groups": g`` as ``g`` convolutions side by side, each
        seeing ``C_in / g`` input channels: ``C_out (C_in / g) k^2`` weights instead of
        ``C_out C_in k^2``. Shapes and receptive fields do not change.

    Returns
    -------
    rows : list of dict
        ``name``, ``type``, ``shape`` ((C, H, W) or (features,)), ``params`` (weights plus
        biases), ``receptive_field`` (pixels of the input one output value sees; a fully
        connected layer sees all ``input_size`` of them).
    """
    size = check_int(input_size, "input_size")
    channels = check_int(in_channels, "in_channels")
    features = None  # set once the tensor is flattened
    r, jump = 1, 1
    rows = []
    for i, layer in enumerate(spec):
        kind = check_choice(layer.get("type"), f"spec[{i}]['type']", _LAYER_TYPES)
        params = 0
        if kind in ("conv", "maxpool", "adaptiveavgpool") and features is not None:
            raise ValueError(f"spec[{i}] ({layer.get('name')}) is spatial but follows an fc layer.")
        if kind in ("conv", "maxpool"):
            k, s = layer["kernel_size"], layer.get("stride", 1)
            size = conv_output_size(size, k, s, layer.get("padding", 0))
            r, jump = receptive_field_step(r, jump, k, s)
            if kind == "conv":
                c_out = layer["out_channels"]
                groups = layer.get("groups", 1) if grouped else 1
                if channels % groups or c_out % groups:
                    raise ValueError(f"spec[{i}] ({layer.get('name')}): {groups} groups must "
                                     f"divide C_in = {channels} and C_out = {c_out}.")
                params = c_out * (channels // groups) * k * k + c_out
                channels = c_out
        elif kind == "adaptiveavgpool":
            out = layer["output_size"]
            if size % out:
                raise ValueError(f"adaptive pooling from {size} to {out} is not a fixed window.")
            s = size // out
            k = size - (out - 1) * s  # the fixed window that gives the same result
            size = out
            r, jump = receptive_field_step(r, jump, k, s)
        elif kind == "dropout" and features is None:
            features = channels * size * size  # the classifier's input, flattened
        elif kind == "fc":
            n_in = features if features is not None else channels * size * size
            features = layer["out_features"]
            params = n_in * features + features
            r = input_size
        shape = (features,) if features is not None else (channels, size, size)
        rows.append({"name": layer.get("name", f"layer{i}"), "type": kind, "shape": shape,
                     "params": params, "receptive_field": r})
    return rows


def alexnet_torch(spec: Sequence = ALEXNET_CAFFE, input_size: int = 227, in_channels: int = 3,
                  dropout: float = 0.5, grouped: bool = False) -> torch.nn.Sequential:
    """Build the spec from ``torch.nn`` layers, one named module per row (plus ReLUs).

    ``input_size`` fixes the first fully connected layer's fan-in (torchvision's adaptive
    pooling makes it 256*6*6 for any input of at least 63 pixels). The Caffe variant's local
    response normalization is ``nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)``. The original
    split conv2, conv4 and conv5 into two groups (one per GPU), which halves their parameters
    but changes no shape: ``grouped=True`` builds them with ``groups=2``, the default with one
    group. ``dropout`` is PyTorch's ``p``, the probability of dropping a unit.
    """
    nn = torch.nn
    table = alexnet_shape_table(spec, input_size, in_channels, grouped)
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    channels, flat = in_channels, False
    for i, (layer, row) in enumerate(zip(spec, table, strict=True)):
        kind, name = row["type"], row["name"]
        if kind in ("dropout", "fc") and not flat:
            modules["flatten"] = nn.Flatten()
            flat = True
        if kind == "conv":
            modules[name] = nn.Conv2d(channels, layer["out_channels"], layer["kernel_size"],
                                      stride=layer.get("stride", 1),
                                      padding=layer.get("padding", 0),
                                      groups=layer.get("groups", 1) if grouped else 1)
            modules["relu" + name[4:]] = nn.ReLU()
        elif kind == "maxpool":
            modules[name] = nn.MaxPool2d(layer["kernel_size"], stride=layer.get("stride", 1))
        elif kind == "lrn":
            modules[name] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        elif kind == "adaptiveavgpool":
            modules[name] = nn.AdaptiveAvgPool2d(layer["output_size"])
        elif kind == "dropout":
            modules[name] = nn.Dropout(p=dropout)
        else:  # fc: its fan-in is the previous row's flattened shape
            n_in = math.prod(table[i - 1]["shape"]) if i else in_channels * input_size**2
            modules[name] = nn.Linear(n_in, layer["out_features"])
            if i + 1 < len(spec):
                modules["relu" + name[2:]] = nn.ReLU()
        channels = row["shape"][0]
    return nn.Sequential(modules)


def torch_output_shapes(model: torch.nn.Sequential, input_size: int, in_channels: int = 3,
                        device="cpu") -> dict[str, tuple[int, ...]]:
    """Run one input through ``model`` and return each named module's output shape.

    Returns
    -------
    shapes : dict mapping module name to the output shape without the batch axis
    """
    model = model.to(device).eval()
    h = torch.zeros((1, in_channels, input_size, input_size), device=device)
    shapes = {}
    with torch.no_grad():
        for name, module in model.named_children():
            h = module(h)
            shapes[name] = tuple(h.shape[1:])
    return shapes
