"""A submission to assignment 02 with exactly one function wrong.

The classic slip: per-channel statistics reduced over the NHWC axes (0, 1, 2) whatever the
layout, so for NCHW images the mean is taken over batch, channels and height, leaving one
value per *column* instead of one per channel. NHWC cases still pass; the NCHW ones return
the wrong shape. Only channel_mean's two test cells may lose points.
"""

CELL = "channel_mean"
SOURCE = '''
def channel_mean(images, layout="NHWC"):
    """Per-channel mean: shape (1, 1, C) for NHWC, (C, 1, 1) for NCHW."""
    images = np.asarray(images)
    return images.mean(axis=(0, 1, 2), keepdims=True)[0]
'''
LOSES = {"test_channel_mean", "test_channel_mean_hidden"}
