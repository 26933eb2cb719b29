"""fastann against PyTorch, float64: the gradients of every activation, loss and layer
against ``torch.autograd``, and every optimizer rule against ``torch.optim``.

A gradient is read through the public API: one full-batch epoch of SGD with learning
rate 1 moves each weight by minus its gradient, and the epoch's loss is the loss at the
starting weights. The same network is written in torch from the same weights, its loss
with torch's own functions where torch has them (``binary_cross_entropy_with_logits``,
``cross_entropy``, ``huber_loss``, ``poisson_nll_loss``, ``kl_div``, ...), and
differentiated by autograd. Dropout (with the mask the kernels drew) and
BatchNormalization in training mode go through the kernels' training pass, as in
``test_layers.py``; BatchNormalization's inference mode and moving statistics through
``predict`` and ``fit``. The optimizers train the same network for several epochs of
several batches each, against torch's optimizer with the arguments that give Keras'
rule (epsilon, where the two place it differently, made negligible).
"""
import numpy as np
import pytest

import fastann as fa
from cases import dropout_masks, make_model, problem, stacks, training_pass

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tests' sizes gain nothing from more
    yield
    torch.set_num_threads(threads)


def tensor(array):
    return torch.tensor(np.asarray(array, np.float64))


def leaves(weights):
    return [tensor(w).requires_grad_() for w in weights]


def dense_forward(weights, X, activations):
    """[(Z, A)] of a Dense stack in torch: A = activation(X @ W + b), layer by layer."""
    A, outputs = tensor(X), []
    for (W, b), activation in zip(zip(weights[::2], weights[1::2]), activations):
        Z = A @ W + b
        A = TORCH_ACTIVATIONS[activation](Z)
        outputs.append((Z, A))
    return outputs


TORCH_ACTIVATIONS = {
    "linear": lambda z: z, "relu": F.relu, "leaky_relu": lambda z: F.leaky_relu(z, 0.2),
    "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": lambda z: torch.softmax(z, dim=1), "elu": F.elu, "selu": F.selu,
    "gelu": F.gelu,  # exact (erf), Keras' approximate=False
    "softplus": F.softplus, "softsign": F.softsign, "swish": F.silu,
    # Keras 3's relu6(x + 3) / 6; not F.hardsigmoid, whose float64 backward multiplies
    # by a float32 1/6 (3e-8 relative off)
    "hard_sigmoid": lambda z: F.relu6(z + 3) / 6,
    "relu6": F.relu6, "exponential": torch.exp, "mish": F.mish,
}


def test_every_trainable_activation_is_covered():
    assert set(fa.activations.names(trainable_only=True)) == set(TORCH_ACTIVATIONS)


def one_sgd_step(model, X, y):
    """(loss at the starting weights, their gradient), read off one full-batch epoch of
    SGD with learning rate 1."""
    before = model.get_weights()
    history = model.fit(X, y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0], [w0 - w1 for w0, w1 in zip(before,
                                                                    model.get_weights())]


def assert_matches_autograd(model, X, y, torch_loss):
    """The loss and gradient of one fastann step equal torch's ``torch_loss(weights)``
    and autograd's gradient of it, at the same weights."""
    weights = leaves(model.get_weights())
    value = torch_loss(weights)
    value.backward()
    loss, gradient = one_sgd_step(model, X, y)
    assert loss == pytest.approx(value.item(), rel=1e-12, abs=1e-15)
    assert max(np.abs(g).max() for g in gradient) > 1e-4  # not vacuous
    for ours, leaf in zip(gradient, weights):
        np.testing.assert_allclose(ours, leaf.grad.numpy(), rtol=1e-8, atol=1e-13)


def sgd_model(layers, loss, n_features, seed=0):
    model = fa.Sequential(layers, input_dim=n_features, dtype="float64", seed=seed)
    model.compile(optimizer=fa.SGD(learning_rate=1.0), loss=loss)
    return model


@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
def test_activation_gradients_match_autograd(activation):
    generator = np.random.default_rng(5)
    X = generator.normal(0, 1.5, (9, 3))
    Y = generator.normal(size=(9, 2))
    model = sgd_model([fa.layers.Dense(4, activation=activation), fa.layers.Dense(2)],
                      "mse", 3)
    # starting weights that reach every activation's curved parts and both signs
    model.set_weights([w + generator.normal(0, 0.5, w.shape) for w in model.get_weights()])

    def torch_loss(weights):
        (_, _), (Z, _) = dense_forward(weights, X, [activation, "linear"])
        return F.mse_loss(Z, tensor(Y))

    assert_matches_autograd(model, X, Y, torch_loss)


def focal(logits, Y, gamma=2.0, alpha=0.25, balanced=False):
    """Keras 3's binary focal cross-entropy: (1 - p_t)**gamma * bce (times alpha or
    1 - alpha when class-balanced), averaged."""
    p = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, Y, reduction="none")
    p_t = Y * p + (1 - Y) * (1 - p)
    loss = (1 - p_t) ** gamma * bce
    if balanced:
        loss = loss * (Y * alpha + (1 - Y) * (1 - alpha))
    return loss.mean()


def hinge(output, Y, power):
    return torch.clamp(1 - Y * output, min=0).pow(power).mean()


# name: (fastann loss, output activation, targets, torch loss of (output Z, output A, Y))
LOSSES = {
    "binary_crossentropy": ("binary_crossentropy", "sigmoid", "binary",
                            lambda Z, A, Y: F.binary_cross_entropy_with_logits(Z, Y)),
    "binary_crossentropy_from_logits": (
        fa.losses.BinaryCrossentropy(from_logits=True), "linear", "binary",
        lambda Z, A, Y: F.binary_cross_entropy_with_logits(Z, Y)),
    "categorical_crossentropy": ("categorical_crossentropy", "softmax", "probabilities",
                                 lambda Z, A, Y: F.cross_entropy(Z, Y)),
    "categorical_crossentropy_from_logits": (
        fa.losses.CategoricalCrossentropy(from_logits=True), "linear", "one_hot",
        lambda Z, A, Y: F.cross_entropy(Z, Y)),
    "sparse_categorical_crossentropy": (
        "sparse_categorical_crossentropy", "softmax", "labels",
        lambda Z, A, Y: F.cross_entropy(Z, Y.long())),
    "mean_squared_error": ("mse", "linear", "real", lambda Z, A, Y: F.mse_loss(A, Y)),
    "mean_squared_error_sigmoid": ("mse", "sigmoid", "binary",
                                   lambda Z, A, Y: F.mse_loss(A, Y)),
    "mean_absolute_error": ("mae", "linear", "real", lambda Z, A, Y: F.l1_loss(A, Y)),
    "huber": ("huber", "linear", "real", lambda Z, A, Y: F.huber_loss(A, Y, delta=1.0)),
    "huber_delta": (fa.losses.Huber(delta=0.4), "linear", "real",
                    lambda Z, A, Y: F.huber_loss(A, Y, delta=0.4)),
    "log_cosh": ("log_cosh", "linear", "real",
                 lambda Z, A, Y: torch.log(torch.cosh(A - Y)).mean()),
    "poisson": ("poisson", "softplus", "counts",
                lambda Z, A, Y: F.poisson_nll_loss(A, Y, log_input=False, eps=1e-7)),
    "poisson_exponential": ("poisson", "exponential", "counts",
                            lambda Z, A, Y: F.poisson_nll_loss(A, Y, log_input=False,
                                                               eps=1e-7)),
    "kl_divergence": ("kl_divergence", "softmax", "probabilities",
                      lambda Z, A, Y: F.kl_div(torch.log(A), Y, reduction="batchmean")),
    "hinge": ("hinge", "tanh", "signs", lambda Z, A, Y: hinge(A, Y, 1)),
    "squared_hinge": ("squared_hinge", "linear", "signs", lambda Z, A, Y: hinge(A, Y, 2)),
    "binary_focal_crossentropy": ("binary_focal_crossentropy", "sigmoid", "binary",
                                  lambda Z, A, Y: focal(Z, Y)),
    "binary_focal_balanced": (
        fa.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3,
                                          gamma=1.5), "sigmoid", "binary",
        lambda Z, A, Y: focal(Z, Y, gamma=1.5, alpha=0.3, balanced=True)),
}


def loss_targets(kind, rows, n_out, generator):
    """(y for fit, Y for torch)."""
    if kind == "labels":
        labels = generator.integers(0, n_out, rows)
        return labels, labels.astype(np.float64)
    Y = {"binary": lambda: generator.integers(0, 2, (rows, n_out)).astype(np.float64),
         "one_hot": lambda: np.eye(n_out)[generator.integers(0, n_out, rows)],
         "probabilities": lambda: generator.dirichlet(np.ones(n_out), rows),
         "real": lambda: generator.normal(size=(rows, n_out)),
         "counts": lambda: generator.poisson(1.5, (rows, n_out)).astype(np.float64),
         "signs": lambda: generator.choice([-1.0, 1.0], (rows, n_out))}[kind]()
    return Y, Y


def test_every_loss_is_covered():
    covered = {fa.losses.get(entry).name for entry, *_ in LOSSES.values()}
    assert covered == {spec.name for spec in fa.losses.LOSSES.values()}


@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_gradients_match_autograd(case):
    loss, output, kind, torch_function = LOSSES[case]
    generator = np.random.default_rng(7)
    X = generator.normal(size=(8, 3))
    y, Y = loss_targets(kind, 8, 3, generator)
    model = sgd_model([fa.layers.Dense(5, activation="tanh"),
                       fa.layers.Dense(3, activation=output)], loss, 3, seed=1)
    model.set_weights([w + generator.normal(0, 0.3, w.shape) for w in model.get_weights()])

    def torch_loss(weights):
        _, (Z, A) = dense_forward(weights, X, ["tanh", output])
        return torch_function(Z, A, tensor(Y))

    assert_matches_autograd(model, X, y, torch_loss)


# ------------------------------------------------ Dropout and BatchNormalization
def torch_stack_loss(model, masks, X, Y, weight, loss):
    """The training-mode weighted mean loss of any stack as a torch function of the
    trainable weights (layout order): Dropout with the kernels' ``masks``,
    BatchNormalization through ``F.batch_norm`` on batch statistics."""
    trainable = [w for w in model.layout.weights if w.trainable]

    def function(weights):
        named = {(w.layer, w.name): value for w, value in zip(trainable, weights)}
        A, Z = tensor(X), None
        for l, layer in enumerate(model.layers):
            kind = type(layer).__name__
            if kind == "Dense":
                Z = A @ named[(l, "kernel")] + named.get((l, "bias"), 0.0)
            elif kind == "Activation":
                Z = A
            elif kind == "Dropout":
                A = A * tensor(masks[l])
                continue
            else:
                Z = F.batch_norm(A, None, None, named.get((l, "gamma")),
                                 named.get((l, "beta")), training=True, eps=layer.epsilon)
            A = TORCH_ACTIVATIONS[layer.activation_spec.name](Z)
        target = tensor(Y)
        if loss == "categorical_crossentropy":
            row = F.cross_entropy(Z, target, reduction="none")
        elif loss == "binary_crossentropy":
            row = F.binary_cross_entropy_with_logits(Z, target, reduction="none").mean(1)
        else:
            row = F.mse_loss(A, target, reduction="none").mean(1)
        return (tensor(weight) * row).sum() / X.shape[0]

    return function, trainable


@pytest.mark.parametrize("name, layers, loss, n_features", stacks(),
                         ids=[s[0] for s in stacks()])
def test_dropout_and_batchnorm_gradients_match_autograd(name, layers, loss, n_features):
    model = make_model(layers, loss, n_features)
    X, Y, weight = problem(model, loss, seed=4)
    rng_state = np.array([2024], np.uint64)
    loss_value, grads, work = training_pass(model, X, Y, weight, rng_state)
    function, trainable = torch_stack_loss(model, dropout_masks(model, work, X.shape[0]),
                                           X, Y, weight, loss)
    weights = leaves([model._params[w.offset:w.offset + w.size].reshape(w.shape)
                      for w in trainable])
    value = function(weights)
    value.backward()
    assert loss_value == pytest.approx(value.item(), rel=1e-12)
    flat = np.concatenate([leaf.grad.numpy().ravel() for leaf in weights])
    np.testing.assert_allclose(grads, flat, rtol=1e-9, atol=1e-12)


def test_batchnorm_inference_and_moving_statistics_match_torch():
    """Inference normalises with the moving statistics (torch's ``training=False``), and
    one training batch moves them by Keras' rule: torch's running mean with momentum
    1 - Keras' momentum; the variance is the batch's biased one (torch keeps the
    unbiased one, hence the correction)."""
    generator = np.random.default_rng(9)
    X = generator.normal(1.0, 2.0, (10, 3))
    y = generator.normal(size=(10, 2))
    model = fa.Sequential([fa.layers.BatchNormalization(momentum=0.8, epsilon=1e-3),
                           fa.layers.Dense(2)], input_dim=3, dtype="float64", seed=0)
    model.compile(optimizer=fa.SGD(learning_rate=0.0), loss="mse")
    gamma, beta = generator.normal(size=3), generator.normal(size=3)
    moving_mean, moving_var = generator.normal(size=3), generator.uniform(0.5, 2.0, 3)
    kernel, bias = model.layers[1].get_weights()
    model.layers[0].set_weights([gamma, beta, moving_mean, moving_var])
    expected = F.batch_norm(tensor(X), tensor(moving_mean), tensor(moving_var),
                            tensor(gamma), tensor(beta), training=False, eps=1e-3)
    np.testing.assert_allclose(model.predict(X, verbose=0),
                               (expected @ tensor(kernel) + tensor(bias)).numpy(),
                               rtol=1e-12, atol=1e-13)
    running_mean, running_var = tensor(moving_mean), tensor(moving_var)
    F.batch_norm(tensor(X), running_mean, running_var, tensor(gamma), tensor(beta),
                 training=True, momentum=0.2, eps=1e-3)
    model.fit(X, y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    _, _, mean_after, var_after = model.layers[0].get_weights()
    np.testing.assert_allclose(mean_after, running_mean.numpy(), rtol=1e-13)
    unbiased = (running_var.numpy() - 0.8 * moving_var) / 0.2
    np.testing.assert_allclose(var_after, 0.8 * moving_var + 0.2 * unbiased * 9 / 10,
                               rtol=1e-12)


# ------------------------------------------------------------------ optimizers
TINY = 1e-16  # fastann's epsilon where torch's is 0: Keras and torch place it apart

# name: (fastann optimizer, torch optimizer of the parameters)
OPTIMIZERS = {
    "sgd": (lambda: fa.SGD(learning_rate=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (lambda: fa.SGD(learning_rate=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": (lambda: fa.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda: fa.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.9, epsilon=TINY),
             lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.9), eps=0.0)),
    "adam_amsgrad": (
        lambda: fa.Adam(learning_rate=0.02, beta_2=0.7, epsilon=TINY, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.9, 0.7), eps=0.0, amsgrad=True)),
    "adamw": (lambda: fa.optimizers.AdamW(learning_rate=0.02, weight_decay=0.1,
                                          epsilon=TINY),
              lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1, eps=0.0)),
    "adamw_amsgrad": (
        lambda: fa.optimizers.AdamW(learning_rate=0.02, weight_decay=0.05, beta_2=0.8,
                                    epsilon=TINY, amsgrad=True),
        lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.05, betas=(0.9, 0.8),
                                    eps=0.0, amsgrad=True)),
    "rmsprop": (lambda: fa.RMSprop(learning_rate=0.01, rho=0.8, epsilon=TINY),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=0.0)),
    "rmsprop_momentum": (
        lambda: fa.RMSprop(learning_rate=0.005, momentum=0.7, epsilon=TINY),
        lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, eps=0.0, momentum=0.7)),
    "rmsprop_centered": (
        lambda: fa.RMSprop(learning_rate=0.005, centered=True, epsilon=TINY),
        lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, eps=0.0, centered=True)),
    "rmsprop_centered_momentum": (
        lambda: fa.RMSprop(learning_rate=0.003, rho=0.85, momentum=0.5, centered=True,
                           epsilon=TINY),
        lambda p: torch.optim.RMSprop(p, lr=0.003, alpha=0.85, eps=0.0, momentum=0.5,
                                      centered=True)),
    "adagrad": (
        lambda: fa.optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.2,
                                      epsilon=TINY),
        lambda p: torch.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.2, eps=0.0)),
    "adamax": (lambda: fa.optimizers.Adamax(learning_rate=0.02, beta_2=0.9, epsilon=TINY),
               lambda p: torch.optim.Adamax(p, lr=0.02, betas=(0.9, 0.9), eps=0.0)),
    # Keras' momentum cache is u_t = beta_1 (1 - 0.5 * 0.96**t): torch's momentum_decay 1
    "nadam": (lambda: fa.optimizers.Nadam(learning_rate=0.02, beta_2=0.95, epsilon=TINY),
              lambda p: torch.optim.NAdam(p, lr=0.02, betas=(0.9, 0.95), eps=0.0,
                                          momentum_decay=1.0)),
}


def per_variable_clip_value(parameters, clipvalue):
    torch.nn.utils.clip_grad_value_(parameters, clipvalue)


def per_variable_clip_norm(parameters, clipnorm):
    for parameter in parameters:  # Keras' clipnorm: each variable by its own norm
        torch.nn.utils.clip_grad_norm_([parameter], clipnorm)


def global_clip_norm(parameters, clipnorm):
    torch.nn.utils.clip_grad_norm_(parameters, clipnorm)


# name: (fastann clipping argument, value, torch clipping, rtol: torch's clip_grad_norm_
# divides by the norm + 1e-6, Keras by the norm)
CLIPPING = {
    "clipvalue": ("clipvalue", 0.02, per_variable_clip_value, 1e-10),
    "clipnorm": ("clipnorm", 0.05, per_variable_clip_norm, 1e-4),
    "global_clipnorm": ("global_clipnorm", 0.05, global_clip_norm, 1e-4),
}


def torch_training(weights, X, Y, make_optimizer, epochs, batch_size, clip=None):
    """The weights after ``epochs`` unshuffled epochs of MSE training of the tanh-linear
    network in torch."""
    parameters = leaves(weights)
    optimizer = make_optimizer(parameters)
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            optimizer.zero_grad()
            _, (Z, _) = dense_forward(parameters, X[start:start + batch_size],
                                      ["tanh", "linear"])
            F.mse_loss(Z, tensor(Y[start:start + batch_size])).backward()
            if clip is not None:
                clip(parameters)
            optimizer.step()
    return [p.detach().numpy() for p in parameters]


def fastann_training(optimizer, X, Y, epochs, batch_size):
    model = fa.Sequential([fa.layers.Dense(5, activation="tanh"), fa.layers.Dense(2)],
                          input_dim=X.shape[1], dtype="float64", seed=4)
    model.compile(optimizer=optimizer, loss="mse")
    initial = model.get_weights()
    model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return initial, model.get_weights()


def regression(rows=12, seed=3):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(rows, 3))
    return X, np.stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 0]], axis=1)


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_optimizer_rules_match_torch_optim(case):
    """Six epochs of three batches (18 steps), from the same weights."""
    make_ours, make_torch = OPTIMIZERS[case]
    X, Y = regression()
    initial, trained = fastann_training(make_ours(), X, Y, epochs=6, batch_size=4)
    expected = torch_training(initial, X, Y, make_torch, epochs=6, batch_size=4)
    assert max(np.abs(a - b).max() for a, b in zip(trained, initial)) > 1e-3
    # 18 steps of rounding apart (Nadam's, the most, reach 1e-10 on weights near 1): a
    # rule that differed would be 1e-3 off
    for ours, theirs in zip(trained, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("case", sorted(CLIPPING))
@pytest.mark.parametrize("rule", ["sgd_momentum", "adam"])
def test_clipping_matches_torch(case, rule):
    argument, value, clip, rtol = CLIPPING[case]
    make_ours, make_torch = OPTIMIZERS[rule]
    optimizer = make_ours()
    ours = type(optimizer)(**{**optimizer.get_config(), argument: value})
    X, Y = regression(seed=8)
    initial, trained = fastann_training(ours, X, Y, epochs=4, batch_size=6)
    expected = torch_training(initial, X, Y, make_torch, epochs=4, batch_size=6,
                              clip=lambda parameters: clip(parameters, value))
    unclipped = torch_training(initial, X, Y, make_torch, epochs=4, batch_size=6)
    assert max(np.abs(a - b).max() for a, b in zip(expected, unclipped)) > 1e-4
    for mine, theirs in zip(trained, expected):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=rtol * 1e-2)
