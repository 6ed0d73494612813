"""Handout bodies for tnn/preprocessing.py (see tables.py; parsed, never imported)."""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

# ------------------------------------------------------------------------------------------
# tnn/preprocessing.py
# ------------------------------------------------------------------------------------------
def standardize_fit(X, eps: float = EPS):
    from sklearn.preprocessing import StandardScaler

    X = as_float_array(X, "X")
    _handout_check("check_table", X.shape)
    _handout_check("check_nonempty", X.shape[0], "X")
    eps = check_positive(eps, "eps")
    scaler = StandardScaler().fit(X.astype(np.float64))
    return scaler.mean_.astype(X.dtype), _handout_safe_std(np.sqrt(scaler.var_), eps).astype(X.dtype)


def standardize_fit_torch(X, eps: float = EPS):
    X = _handout_tensor(X, "X")
    _handout_check("check_table", tuple(X.shape))
    _handout_check("check_nonempty", X.shape[0], "X")
    eps = check_positive(eps, "eps")
    var, mean = torch.var_mean(X, dim=0, correction=0)
    # floor the variance, not the std, so that autograd never divides by a zero std
    return mean, torch.sqrt(torch.where(var < eps * eps, torch.ones_like(var), var))


def standardize_transform(X, mean, std):
    from sklearn.preprocessing import StandardScaler

    X = as_float_array(X, "X")
    _handout_check("check_table", X.shape)
    mean, std = as_float_array(mean, "mean"), as_float_array(std, "std")
    _handout_check("_check_table_stat", mean.shape, X.shape, "mean")
    _handout_check("_check_table_stat", std.shape, X.shape, "std")
    _handout_check("_check_scale", std, "std")
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = mean.astype(X.dtype), std.astype(X.dtype)
    scaler.var_, scaler.n_features_in_, scaler.n_samples_seen_ = scaler.scale_ ** 2, X.shape[1], 1
    return scaler.transform(X, copy=True)


def standardize_backward(x, dout, eps: float = EPS):
    x = as_float_array(x, "x")
    _handout_check("check_table", x.shape, "x")
    _handout_check("check_nonempty", x.shape[0], "x")
    dout = as_float_array(dout, "dout")
    _handout_check("_check_dout", dout.shape, x.shape)
    return _handout_grad(lambda t: standardize_batch_torch(t, eps), x, dout).astype(x.dtype)


def standardize_backward_torch(x, dout, eps: float = EPS):
    x = _handout_tensor(x, "x")
    _handout_check("check_table", tuple(x.shape), "x")
    _handout_check("check_nonempty", x.shape[0], "x")
    dout = _handout_stat_tensor(dout, x, "dout")
    _handout_check("_check_dout", tuple(dout.shape), tuple(x.shape))
    return _handout_grad_torch(lambda t: standardize_batch_torch(t, eps), x, dout)


def mean_image(images, layout: str = "NHWC"):
    from sklearn.preprocessing import StandardScaler

    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("check_nonempty", images.shape[0], "images")
    scaler = StandardScaler(with_std=False).fit(
        images.reshape(images.shape[0], -1).astype(np.float64))
    return scaler.mean_.reshape(images.shape[1:]).astype(images.dtype)


def _handout_channel_scaler(images, layout):
    """StandardScaler fitted with one feature per channel, and the statistics' shape."""
    from sklearn.preprocessing import StandardScaler

    channels = images.shape[_handout_channel_axis(layout)]
    pixels = np.moveaxis(images, _handout_channel_axis(layout), -1).reshape(-1, channels)
    shape = (1, 1, channels) if layout == "NHWC" else (channels, 1, 1)
    return StandardScaler().fit(pixels.astype(np.float64)), shape


def channel_mean(images, layout: str = "NHWC"):
    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("check_nonempty", images.shape[0], "images")
    scaler, shape = _handout_channel_scaler(images, layout)
    return scaler.mean_.reshape(shape).astype(images.dtype)


def channel_std(images, layout: str = "NHWC", eps: float = EPS):
    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("check_nonempty", images.shape[0], "images")
    eps = check_positive(eps, "eps")
    scaler, shape = _handout_channel_scaler(images, layout)
    return _handout_safe_std(np.sqrt(scaler.var_), eps).reshape(shape).astype(images.dtype)


def normalize_images(images, mean, std=None, layout: str = "NHWC"):
    from sklearn.preprocessing import StandardScaler

    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    mean = as_float_array(mean, "mean")
    _handout_check("_check_image_stat", mean.shape, images.shape, layout, "mean")
    one = images.shape[1:]
    scaler = StandardScaler(with_std=std is not None)
    scaler.mean_ = np.broadcast_to(mean.astype(images.dtype), one).reshape(-1)
    scaler.scale_ = None
    if std is not None:
        std = as_float_array(std, "std")
        _handout_check("_check_image_stat", std.shape, images.shape, layout, "std")
        _handout_check("_check_scale", std, "std")
        scaler.scale_ = np.broadcast_to(std.astype(images.dtype), one).reshape(-1)
    scaler.n_features_in_, scaler.n_samples_seen_ = scaler.mean_.size, 1
    flat = images.reshape(images.shape[0], -1)
    return scaler.transform(flat, copy=True).reshape(images.shape)


def normalize_images_torch(images, mean, std=None, layout: str = "NHWC"):
    images = _handout_tensor(images, "images")
    _handout_check("_check_images", tuple(images.shape), layout)
    mean = _handout_stat_tensor(mean, images, "mean")
    _handout_check("_check_image_stat", tuple(mean.shape), tuple(images.shape), layout, "mean")
    if std is None:
        return torch.sub(images, mean)
    std = _handout_stat_tensor(std, images, "std")
    _handout_check("_check_image_stat", tuple(std.shape), tuple(images.shape), layout, "std")
    _handout_check("_check_scale", std, "std")
    return torch.div(torch.sub(images, mean), std)


def select_features(X, y, k: int):
    from sklearn.feature_selection import r_regression

    X = as_float_array(X, "X").astype(np.float64)
    _handout_check("check_table", X.shape)
    _handout_check("check_nonempty", X.shape[0], "X")
    y = as_float_array(y, "y").astype(np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X; got {y.shape}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= X.shape[1]:
        raise ValueError(f"k must be an int between 1 and D = {X.shape[1]}; got {k!r}.")
    score = np.abs(r_regression(X, y, force_finite=True))  # (D,)
    # r_regression's centring by sums can leave a constant column a tiny nonzero norm
    score[(np.ptp(X, axis=0) == 0) | (np.ptp(y) == 0)] = 0.0
    return np.argsort(-score, kind="stable")[:k].astype(np.int64)


def cross_val_accuracy(X, y, folds, k: int, leaky: bool, select=None) -> float:
    from sklearn.feature_selection import SelectKBest
    from sklearn.model_selection import PredefinedSplit, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    select = select_features if select is None else select
    X = as_float_array(X, "X")
    _handout_check("check_table", X.shape)
    y, folds = np.asarray(y), np.asarray(folds)
    if y.shape != (len(X),) or folds.shape != (len(X),):
        raise ValueError(f"y and folds must have shape ({len(X)},); got {y.shape} and "
                         f"{folds.shape}.")
    if len(np.unique(folds)) < 2:
        raise ValueError("folds must name at least two different folds; got "
                         f"{len(np.unique(folds))}.")

    def ranks(X_fit, y_fit):  # SelectKBest keeps the k best scores: score the chosen ones
        score = np.zeros(X_fit.shape[1])
        chosen = np.asarray(select(X_fit, y_fit, k))
        score[chosen] = np.arange(len(chosen), 0, -1)
        return score

    knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    cv = PredefinedSplit(folds)
    with threadpool_limits(1):  # tiny problems: a thread pool's start-up would dominate
        if leaky:
            pred = cross_val_predict(knn, X[:, np.asarray(select(X, y, k))], y, cv=cv)
        else:
            pred = cross_val_predict(make_pipeline(SelectKBest(ranks, k=k), knn), X, y, cv=cv)
    return float(np.mean(pred == y))
