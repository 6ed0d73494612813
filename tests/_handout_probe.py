"""Values of the graded library functions on fixed inputs, from whichever ``tnn`` imports.

Run as a script (``python _handout_probe.py out.npz``) it prints the library's folder and
saves the values; tests/test_student_bundle.py runs it against the handout's library and
compares with :func:`probe` computed from the repository's references.
"""

import sys
from pathlib import Path

import numpy as np


def probe() -> dict[str, np.ndarray]:
    import torch

    from tnn import activations, initialization, optimizers, preprocessing, schedules, search

    r = np.random.default_rng(5)
    x = np.array([-1000.0, -12.0, -2.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 12.0])
    x32 = r.normal(size=(4, 5)).astype(np.float32) * 4
    out = {}
    for name in ("sigmoid", "sigmoid_grad", "tanh_grad", "relu", "relu_grad", "leaky_relu",
                 "leaky_relu_grad", "elu", "selu"):
        fn = getattr(activations, name)
        out[name] = fn(x)
        out[name + "_f32"] = fn(x32)
        out[name + "_scalar"] = np.asarray(fn(0.7))
    out["leaky_relu_0.2"] = activations.leaky_relu(x, 0.2)
    out["elu_0.5"] = activations.elu(x, 0.5)
    xs, slope = r.normal(size=(3, 4, 2, 2)), np.array([0.1, 0.2, 0.3, 0.4])
    dout = r.normal(size=xs.shape)
    out["prelu"] = activations.prelu(xs, slope)
    out["prelu_backward_dx"], out["prelu_backward_dslope"] = activations.prelu_backward(dout, xs, slope)
    z = r.normal(size=(6, 8)) - np.linspace(0, 3, 8)
    out["dead_unit_fraction"] = np.asarray(activations.dead_unit_fraction(z))
    X = r.normal(size=(9, 4)) * [1.0, 5.0, 0.1, 0.0] + [3.0, -1.0, 2.0, 7.0]
    mean, std = preprocessing.standardize_fit(X)
    out["standardize_fit_mean"], out["standardize_fit_std"] = mean, std
    out["standardize_transform"] = preprocessing.standardize_transform(X + 1.0, mean, std)
    out["standardize_backward"] = preprocessing.standardize_backward(X, r.normal(size=X.shape))
    images = r.uniform(0, 255, size=(5, 4, 3, 3))
    for layout in ("NHWC", "NCHW"):
        out["mean_image_" + layout] = preprocessing.mean_image(images, layout)
        out["channel_mean_" + layout] = preprocessing.channel_mean(images, layout)
        out["channel_std_" + layout] = preprocessing.channel_std(images, layout)
        cm, cs = preprocessing.channel_mean(images, layout), preprocessing.channel_std(images, layout)
        out["normalize_images_" + layout] = preprocessing.normalize_images(images, cm, cs, layout)
        out["normalize_mean_image_" + layout] = preprocessing.normalize_images(
            images, preprocessing.mean_image(images, layout), None, layout)
    Xs, ys = r.normal(size=(20, 12)), np.array([0, 1] * 10)
    Xs[:, 3] += 2 * ys
    Xs[:, 5] = 1.0
    out["select_features"] = preprocessing.select_features(Xs, ys, 12)
    folds = np.arange(20) % 4
    out["cross_val_accuracy"] = np.array([preprocessing.cross_val_accuracy(Xs, ys, folds, 3, leaky)
                                          for leaky in (False, True)])
    shapes = [(300, 10), (4096, 4096), (64, 3, 11, 11), (256, 96, 5, 5), (7, 3, 2)]
    out["fan_in"] = np.array([initialization.fan_in(s) for s in shapes])
    for shape in [(5, 3), (4, 2, 3, 3)]:
        key = "x".join(map(str, shape))
        out["xavier_" + key] = initialization.xavier_normal(np.random.default_rng(1), shape, gain=1.7)
        out["kaiming_" + key] = initialization.kaiming_normal(np.random.default_rng(1), shape, 0.2)
        out["kaiming32_" + key] = initialization.kaiming_normal(np.random.default_rng(1), shape,
                                                   dtype=np.float32)
    h, w = r.normal(size=(4, 5)), r.normal(size=(5, 3)) / 2
    for act in ("tanh", "relu"):
        dh, dw = initialization.layer_backward(r.normal(size=(4, 3)), h, w, act)
        out["layer_backward_dh_" + act], out["layer_backward_dw_" + act] = dh, dw
        stats = initialization.layer_statistics(h, [w, w.T], act, dout=np.ones((4, 5)))
        for k in ("mean", "std", "grad_std", "weight_grad_std"):
            out[f"layer_statistics_{k}_{act}"] = stats[k]
    out["conv_output_size"] = np.array([
        initialization.conv_output_size(*a) for a in [(227, 11, 4), (224, 11, 4, 2), (27, 3, 2),
                                         (13, 3, 1, 1), (31, 3, 2, 1, 2), (5, 5)]])
    alexnet = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
    out["receptive_field"] = np.array([
        initialization.receptive_field(layers) for layers in
        ([(3, 1), (3, 1)], [(11, 4), (3, 2)], [(3, 1)], [(2, 2)] * 3, alexnet, [],
         [(3, 2, 2), (3, 1)])])
    # topic 07: the handout's update rules delegate to torch.optim (nadam is left out: torch
    # keeps its running momentum product in the default dtype, float32)
    params = {"a": r.normal(size=(3, 2)), "b": r.normal(size=4) * 1e-3}
    for name, hyper in [("momentum", {"lr": 0.05, "gamma": 0.8}),
                        ("nesterov", {"lr": 0.05, "gamma": 0.7}),
                        ("rmsprop", {"lr": 0.01, "decay": 0.9, "eps": 1e-4}),
                        ("adam", {"lr": 0.01, "beta1": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
                        ("adamw", {"lr": 0.01, "weight_decay": 0.5}),
                        ("adam_efficient", {"lr": 0.01, "eps_hat": 1e-3})]:
        step, p, s = optimizers.RULES[name][0], dict(params), None
        for _ in range(10):
            p, s = step(p, {k: v - 0.5 for k, v in p.items()}, s, **hyper)
        out["opt_" + name] = np.concatenate([p[k].ravel() for k in sorted(p)])
    # schedules over whole runs (and past their end), clipping with torch's eps and others
    for w, d, final in [(0, 30, 0.0), (1, 12, 0.01), (7, 25, 0.002)]:
        out[f"warmup_cosine_{w}_{d}"] = [schedules.warmup_cosine_lr(t, 0.1, w, d, final)
                                         for t in range(w + d + 3)]
    out["cosine_decay"] = [schedules.cosine_decay_lr(t, 0.3, 17, 0.01) for t in range(20)]
    out["linear_warmup"] = [schedules.linear_warmup_lr(t, 0.2, 6) for t in range(8)]
    out["schedule_cosine_w5"] = schedules.schedule_values(
        schedules.Schedule("cosine", 0.1, decay_steps=20, warmup_steps=5, final_lr=1e-3), 26)
    grads = {"w": r.normal(size=(4, 3)) * 3, "b": r.normal(size=3)}
    out["global_grad_norm"] = np.asarray(schedules.global_grad_norm(grads))
    for max_norm, eps in [(1.0, 1e-6), (0.5, 0.0), (2.0, 0.3), (1e3, 1e-6)]:
        clipped, norm = schedules.clip_by_global_norm(grads, max_norm, eps)
        out[f"clip_{max_norm}_{eps}"] = np.concatenate([clipped["w"].ravel(), clipped["b"],
                                                        [norm]])
        tg = [torch.from_numpy(grads["w"]), torch.from_numpy(grads["b"])]
        ct, nt = schedules.clip_by_global_norm_torch(tg, max_norm, eps)
        out[f"clip_torch_{max_norm}_{eps}"] = np.concatenate(
            [ct[0].numpy().ravel(), ct[1].numpy(), [float(nt)]])
    out["global_grad_norm_torch"] = np.asarray(float(schedules.global_grad_norm_torch(
        [torch.from_numpy(grads["w"])])))
    norms = np.exp(r.normal(size=57))
    out["clip_threshold"] = np.array([schedules.clip_threshold(norms, q)
                                      for q in (90.0, 50.0, 12.5, 100.0)])
    # search: the log scale at its ends, the bootstrap's draws for both goals, the edge check
    u = np.concatenate([[0.0, 0.5, 1.0], r.random(9)])
    for low, high in [(1e-5, 1e-1), (2.0, 32.0), (0.3, 0.30001)]:
        out[f"scale_log_{low}_{high}"] = search.scale_log(u, low, high)
    pool = r.lognormal(size=37)
    for goal in ("maximize", "minimize"):
        for n in (1, 6, 20):
            out[f"best_of_{n}_{goal}"] = search.bootstrap_best_of_n(
                pool, n, np.random.default_rng(n), goal=goal, n_resamples=301)
    space = search.SearchSpace((search.Axis("lr", 1e-5, 1e-1, "log"),
                                search.Axis("wd", 0.0, 0.01),
                                search.Axis("width", 16, 256, "int_log"),
                                search.Axis("act", scale="categorical", choices=("relu", "tanh"))))
    trials = search.quasi_random_search(space, 40, np.random.default_rng(9))
    acc = np.array([-abs(np.log10(t["lr"]) + 1.3) + t["wd"] * 30 for t in trials])
    acc[[3, 7]] = acc.max()  # a tie among the best
    for goal in ("maximize", "minimize"):
        for top, edge, share in [(0.1, 0.1, 0.5), (0.25, 0.2, 0.3), (1.0, 0.5, 0.5),
                                 (0.05, 0.1, 1.0)]:
            messages = search.edge_of_space_check(space, trials, acc, goal=goal,
                                                  top_fraction=top, edge_fraction=edge,
                                                  min_share=share)
            out[f"edge_{goal}_{top}_{edge}_{share}"] = [  # each message as a checksum
                sum((i + 1) * ord(c) for i, c in enumerate(m)) for m in messages] or [0]
    # recipe: the initial loss, the overfitting loop, the dependency check, the diagnosis
    from torch import nn

    from tnn import recipe

    def text(message):  # a message as a checksum: the lectures print them
        return sum((i + 1) * ord(c) for i, c in enumerate(message))

    def mlp(seed, norm=False, scale=1.0, zero=False):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16) if norm else nn.Identity(),
                            nn.ReLU(), nn.Linear(16, 10))
        with torch.no_grad():
            net[3].weight.mul_(scale)
            for p in net.parameters() if zero else ():
                p.zero_()
        return net

    Xr = r.uniform(0, 1, size=(30, 64)).astype(np.float32)
    yr = r.integers(0, 10, size=30)
    for name, net, rtol in [("plain", mlp(1), 0.1), ("scaled", mlp(2, scale=8.0), 0.1),
                            ("norm", mlp(3, norm=True), 0.01), ("tight", mlp(4), 1e-3)]:
        net.train()
        check = recipe.check_initial_loss(net, Xr, yr, 10, rtol=rtol)
        out[f"recipe_initial_{name}"] = [check.measured["loss"], check.passed, text(check.message),
                                         net.training]
    for name, net, steps in [("fits", mlp(5), 300), ("zero", mlp(6, zero=True), 40),
                             ("norm", mlp(7, norm=True), 300)]:
        check = recipe.check_overfit(net, Xr[:12], yr[:12], steps=steps, lr=2e-2)
        needed = check.measured["steps"]
        out[f"recipe_overfit_{name}"] = np.concatenate([
            [-1 if needed is None else needed, check.measured["accuracy"], check.passed,
             text(check.message)],
            check.measured["losses"]])
    sequences = recipe.to_time_major(Xr[:7])
    for name, net, X, dim, index in [
            ("time_major", recipe.TimeMajorMLP(hidden=12), sequences, 1, 3),
            ("time_major_bug", recipe.TimeMajorMLP(hidden=12, bug=True), sequences, 1, 6),
            ("norm", mlp(8, norm=True), Xr[:9], 0, 0)]:
        check = recipe.check_batch_independence(net, X, index=index, batch_dim=dim)
        out[f"recipe_dependency_{name}"] = np.concatenate([
            check.measured["gradient_per_example"], [check.passed, text(check.message)]])
    curves = [(np.linspace(0.3, 0.85, 8), np.linspace(0.28, 0.83, 8), {}),
              (np.full(8, 0.62), np.full(8, 0.6), {}),
              (np.array([0.9, 0.97, 0.99, 1, 1, 1, 1, 1]),
               np.array([0.88, 0.91, 0.91, 0.9, 0.9, 0.89, 0.9, 0.9]), {}),
              (np.array([0.5, 0.625, 0.75, 0.875]), np.array([0.5, 0.75, 0.625, 0.625]),
               {"window": 1}),
              (r.uniform(0.9, 1.0, 13), r.uniform(0.85, 0.95, 13), {"window": 9, "gap": 0.02})]
    for i, (train, val, settings) in enumerate(curves):
        label, evidence = recipe.diagnose_curves(train, val, **settings)
        out[f"recipe_diagnosis_{i}"] = [recipe.DIAGNOSES.index(label),
                                        *(evidence[k] for k in sorted(evidence))]
    # augmentation: the same draws from the same generator, replays, borders, both dtypes
    from tnn import augmentation

    batch = r.uniform(0.05, 1.0, size=(6, 5, 7, 3))
    batch32 = r.uniform(0.05, 1.0, size=(4, 6, 3, 1)).astype(np.float32)
    for pad in (0, 1, 3):
        crop, drawn = augmentation.random_crop(batch, pad, np.random.default_rng(pad))
        out[f"aug_crop_{pad}"] = np.concatenate([crop.ravel(), drawn["top"], drawn["left"]])
    corners = {"top": np.array([0, 4, 0, 4]), "left": np.array([0, 0, 4, 4])}
    out["aug_crop_corners_32"] = augmentation.random_crop(batch32, 2, params=corners,
                                                          fill=0.5)[0]
    for side in (0, 1, 2, 3, 4, 9):
        erased, drawn = augmentation.cutout(batch, side, np.random.default_rng(side))
        out[f"aug_cutout_{side}"] = np.concatenate([erased.ravel(), drawn["cy"], drawn["cx"]])
    edges = {"cy": np.array([0, 5, 2, 0]), "cx": np.array([0, 2, 0, 2])}
    out["aug_cutout_edges_32"] = augmentation.cutout(batch32, 3, params=edges, fill=0.25)[0]
    nchw = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
    for side in (0, 1, 2, 3, 4, 9):
        erased, drawn = augmentation.cutout_torch(nchw, side, torch.Generator().manual_seed(side))
        out[f"aug_cutout_torch_{side}"] = np.concatenate([
            erased.numpy().ravel(), drawn["cy"].numpy(), drawn["cx"].numpy()])
    edges_t = {k: torch.from_numpy(v) for k, v in edges.items()}
    out["aug_cutout_torch_edges_32"] = augmentation.cutout_torch(
        torch.from_numpy(batch32.transpose(0, 3, 1, 2).copy()), 3, params=edges_t,
        fill=0.25)[0].numpy()
    labels = np.array([3, 5, 0, 9, 9, 1])
    for alpha in (0.2, 1.0):
        mixed, rows, drawn = augmentation.mixup(batch, labels, alpha,
                                                np.random.default_rng(11), num_classes=10)
        out[f"aug_mixup_{alpha}"] = np.concatenate([mixed.ravel(), rows.ravel(), drawn["lam"],
                                                    drawn["index"]])
    pets = {"lam": np.array([0.4, 0.75]), "index": np.array([1, 0])}
    mixed, rows, _ = augmentation.mixup(np.stack([batch[0], batch[1]]), np.array([3, 5]),
                                        num_classes=10, params=pets)
    out["aug_mixup_pets"] = np.concatenate([mixed.ravel(), rows.ravel()])
    out["aug_mixup_32"] = augmentation.mixup(batch32, labels[:4], num_classes=10, params={
        "lam": np.array([0.1, 0.5, 0.9, 1.0]), "index": np.array([2, 3, 0, 1])})[0]
    for factor in (0.0, 0.5, 1.0, 1.8, np.array([0.0, 0.3, 1.0, 2.0, 4.0, 0.7])):
        key = "x".join(map(str, np.atleast_1d(factor)))
        out[f"aug_contrast_{key}"] = augmentation.adjust_contrast(batch, factor)
    out["aug_contrast_gray_32"] = augmentation.adjust_contrast(batch32, 2.5)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


if __name__ == "__main__":
    import tnn

    print(Path(tnn.__file__).parent)
    np.savez(sys.argv[1], **probe())
