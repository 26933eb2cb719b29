"""Freezing, as Keras 3 does it: ``trainable=False`` on a layer (given, or assigned
later) or on the model.

A frozen layer's weights come out of ``fit`` bit for bit as they went in, whatever the
optimizer (weight decay, clipping and Nadam's cache included); its regularizers leave
the loss; a frozen BatchNormalization normalises with its moving statistics in training
too and keeps them. Whole runs are checked against Keras 3 itself (float32, its JAX
backend), the frozen BatchNormalization's gradient against finite differences and
PyTorch's autograd, and the flags through ``summary``, configs, ``.npz`` and ``.keras``
files.
"""
import os

import numpy as np
import pytest

import fastann as fa
from cases import problem, training_pass

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def stack(library, batch_norm=False):
    """3 -> 5 tanh -> [BatchNormalization] -> 4 relu (L2 on its kernel) -> 2."""
    layers = [library.layers.Dense(5, activation="tanh", name="dense"),
              library.layers.Dense(4, activation="relu", name="dense_1",
                                   kernel_regularizer=library.regularizers.L2(0.01)),
              library.layers.Dense(2, name="dense_2")]
    if batch_norm:  # (names given: the automatic ones count up differently in each)
        layers.insert(1, library.layers.BatchNormalization(momentum=0.8,
                                                           name="batch_normalization"))
    return [library.Input(shape=(3,))] + layers


RULES = {
    "sgd_momentum": lambda library: library.optimizers.SGD(0.1, momentum=0.5),
    "adam": lambda library: library.optimizers.Adam(0.01),
    "nadam": lambda library: library.optimizers.Nadam(0.01),
    "adamw_global_clipnorm": lambda library: library.optimizers.AdamW(
        0.01, weight_decay=0.1, global_clipnorm=0.1),
    "rmsprop_clipnorm": lambda library: library.optimizers.RMSprop(0.01, clipnorm=0.05),
}


def plain(text):
    """A summary's text without trailing spaces and blank lines."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def regression(rows=24, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(rows, 3)).astype(np.float32)
    return X, np.stack([np.tanh(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 0]],
                       axis=1).astype(np.float32)


def twins(keras, rule, batch_norm, frozen):
    """The same model in fastann and in Keras, same weights, layers ``frozen`` (indices
    of ``model.layers``) set trainable=False before compile, compiled with ``rule``."""
    ours = fa.Sequential(stack(fa, batch_norm), seed=0)
    theirs = keras.Sequential(stack(keras, batch_norm))
    theirs.set_weights(ours.get_weights())
    for model, library in ((ours, fa), (theirs, keras)):
        for index in frozen:
            model.layers[index].trainable = False
        model.compile(optimizer=RULES[rule](library), loss="mse")
    return ours, theirs


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("batch_norm", [False, True], ids=["dense", "batchnorm"])
def test_frozen_layers_train_as_in_keras(keras, rule, batch_norm):
    """A frozen Dense in the middle (with a regularizer, which leaves the loss) and, with
    batch_norm, a frozen BatchNormalization (inference statistics in training): three
    epochs of three batches, weights and losses as Keras'; the frozen arrays untouched."""
    frozen = [1, 2] if batch_norm else [1]
    ours, theirs = twins(keras, rule, batch_norm, frozen)
    X, y = regression()
    before = ours.get_weights()
    history = ours.fit(X, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    expected = theirs.fit(X, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"],
                               rtol=2e-5)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(keras_weight), rtol=1e-4, atol=2e-6)
    frozen_slots = {i for i, slot in enumerate(ours.layout.weights) if slot.layer in frozen}
    for i, (start, end) in enumerate(zip(before, ours.get_weights())):
        if i in frozen_slots:
            np.testing.assert_array_equal(start, end)
        else:
            assert not np.array_equal(start, end)


def test_frozen_model_keeps_every_weight(keras):
    """model.trainable = False: nothing trains (the step count still advances, as in
    Keras), the loss has no regularizer term, the summary's counts are Keras'."""
    texts, losses = {}, {}
    X, y = regression()
    for library in (fa, keras):
        model = library.Sequential(stack(library, batch_norm=True))
        if library is fa:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        model.trainable = False
        assert all(not layer.trainable for layer in model.layers)
        assert model.trainable_weights == [] and len(model.non_trainable_weights) == 10
        model.compile(optimizer="adam", loss="mse")
        losses[library] = model.fit(X, y, batch_size=8, epochs=2, shuffle=False,
                                    verbose=0).history["loss"]
        for start, end in zip(weights, model.get_weights()):
            np.testing.assert_array_equal(start, np.asarray(end))
        printed = []
        model.summary(print_fn=printed.append, line_length=76)
        texts[library] = plain(printed[0]).replace(model.name, "net")
    np.testing.assert_allclose(losses[fa], losses[keras], rtol=1e-5)
    assert texts[fa] == texts[keras]
    assert " Trainable params: 0 (0.00 B)" in texts[fa]


def test_summary_and_weights_lists_count_frozen_layers_as_keras(keras):
    X, y = regression()
    texts = {}
    for library in (fa, keras):
        model = library.Sequential(stack(library, batch_norm=True), name="net")
        model.layers[0].trainable = False
        model.compile(optimizer="nadam", loss="mse")
        model.fit(X, y, batch_size=8, epochs=1, verbose=0)
        printed = []
        model.summary(print_fn=printed.append, line_length=76)
        for line_length in (76, 60):  # Keras' "Trainable" column: Y, N, - without weights
            model.summary(print_fn=printed.append, line_length=line_length,
                          show_trainable=True)
        texts[library] = [plain(text) for text in printed]
        assert [w.shape for w in model.trainable_weights] == [(5,), (5,), (5, 4), (4,),
                                                              (4, 2), (2,)]
        assert [w.shape for w in model.non_trainable_weights] == [(3, 5), (5,), (5,), (5,)]
    assert texts[fa] == texts[keras]
    assert "Optimizer params: 91 (364.00 B)" in texts[fa][0]  # 2 * 44 + iterations, lr, cache
    assert "│   N   │" in texts[fa][1] and "│   Y   │" in texts[fa][1]


def test_unfreezing_trains_the_layer_again():
    X, y = regression()
    model = fa.Sequential(stack(fa), seed=1)
    model.compile(optimizer="adam", loss="mse")
    model.layers[0].trainable = False
    kernel = model.layers[0].get_weights()[0]
    model.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], kernel)
    model.layers[0].trainable = True  # read by the next fit
    model.fit(X, y, epochs=2, verbose=0)
    assert not np.array_equal(model.layers[0].get_weights()[0], kernel)


def test_freezing_changes_nothing_else():
    """A frozen first layer: the others train exactly as with that layer's learning
    rate 0 would leave it (SGD without momentum: the same arithmetic)."""
    X, y = regression()
    frozen = fa.Sequential(stack(fa), seed=2)
    frozen.layers[0].trainable = False
    frozen.compile(optimizer=fa.SGD(0.05), loss="mse")
    plain = fa.Sequential(stack(fa), seed=2)
    plain.compile(optimizer=fa.SGD(0.05), loss="mse")
    kernel, bias = plain.layers[0].get_weights()
    for epoch in range(3):
        frozen.fit(X, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
        for start in range(0, len(X), 6):  # batch by batch, putting layer 0 back
            plain.fit(X[start:start + 6], y[start:start + 6], batch_size=6, epochs=1,
                      shuffle=False, verbose=0)
            plain.layers[0].set_weights([kernel, bias])
    for a, b in zip(frozen.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_batchnorm_gradient_matches_finite_differences_and_torch():
    """In training a frozen BatchNormalization is the affine map of its moving
    statistics: the kernels' gradient through it equals central differences and
    autograd through ``F.batch_norm(training=False)``."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = fa.Sequential([fa.layers.Dense(4, activation="tanh"),
                           fa.layers.BatchNormalization(epsilon=1e-3),
                           fa.layers.Dense(1, activation="sigmoid")], input_dim=3,
                          dtype="float64", seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    X, Y, weight = problem(model, "binary_crossentropy", seed=5)
    generator = np.random.default_rng(6)
    model.layers[1].set_weights([generator.normal(size=4), generator.normal(size=4),
                                 generator.normal(size=4), generator.uniform(0.5, 2, 4)])
    model.layers[1].trainable = False
    rng_state = np.array([1], np.uint64)
    loss, grads, _ = training_pass(model, X, Y, weight, rng_state)
    params = model._params.copy()
    numeric = np.empty_like(params)
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + 1e-6
        up = training_pass(model, X, Y, weight, rng_state, params, backward=False)[0]
        params[i] = saved - 1e-6
        down = training_pass(model, X, Y, weight, rng_state, params, backward=False)[0]
        params[i] = saved
        numeric[i] = (up - down) / 2e-6
    trains = np.zeros(params.size, bool)
    for slot, flag in zip(model.layout.weights, model._trains()):
        if slot.trainable:
            trains[slot.offset:slot.offset + slot.size] = flag
    np.testing.assert_allclose(grads[trains], numeric[trains], rtol=1e-5, atol=1e-8)

    W1, b1, gamma, beta, mean, variance, W2, b2 = [
        torch.tensor(w, requires_grad=i not in (4, 5))  # the moving statistics: constants
        for i, w in enumerate(model.get_weights())]
    Z = F.batch_norm(torch.tanh(torch.tensor(X) @ W1 + b1), mean, variance, gamma, beta,
                     training=False, eps=1e-3) @ W2 + b2
    value = (torch.tensor(weight) * F.binary_cross_entropy_with_logits(
        Z, torch.tensor(Y), reduction="none").mean(1)).sum() / X.shape[0]
    value.backward()
    assert loss == pytest.approx(value.item(), rel=1e-12)
    for tensor, slot in zip((W1, b1, W2, b2), [s for s, flag in zip(model.layout.weights,
                                                                     model._trains())
                                               if flag]):
        np.testing.assert_allclose(grads[slot.offset:slot.offset + slot.size],
                                   tensor.grad.numpy().ravel(), rtol=1e-10, atol=1e-13)


def test_flags_travel_through_configs_and_files(tmp_path, keras):
    X, y = regression()
    model = fa.Sequential(stack(fa, batch_norm=True), seed=3)
    model.layers[0].trainable = False
    model.layers[1].trainable = False
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=2, verbose=0)
    flags = [False, False, True, True]
    assert [layer.get_config()["trainable"] for layer in model.layers] == flags
    rebuilt = fa.models.model_from_json(model.to_json())
    assert [layer.trainable for layer in rebuilt.layers] == flags
    loaded = fa.load_model(model.save(tmp_path / "m.npz"))
    assert [layer.trainable for layer in loaded.layers] == flags
    for twin in (model, loaded):
        twin.fit(X, y, epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # .keras: Keras reads the flags and the optimizer state of the trainable weights only
    path = model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(path)
    assert [layer.trainable for layer in theirs.layers] == flags
    assert int(theirs.optimizer.iterations.numpy()) == model.optimizer.iterations
    assert len(theirs.optimizer.variables) == 2 + 2 * len(model.trainable_weights)
    theirs.fit(X, y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    model.fit(X, y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    for mine, keras_weight in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(keras_weight), rtol=1e-4, atol=1e-5)
    back = fa.load_model(path)
    assert [layer.trainable for layer in back.layers] == flags
    theirs.trainable = False
    theirs.save(tmp_path / "k.keras")
    assert fa.load_model(tmp_path / "k.keras").trainable is False
    from_json = fa.models.model_from_json(theirs.to_json())  # Keras' JSON, read as a config
    assert from_json.trainable is False
    assert not any(layer.trainable for layer in from_json.layers)


def test_sequential_trainable_argument():
    model = fa.Sequential([fa.layers.Dense(2)], trainable=False, input_dim=3)
    assert model.trainable is False and model.layers[0].trainable is False
    with pytest.raises(TypeError, match="Sequential trainable must be True or False"):
        fa.Sequential([fa.layers.Dense(2)], trainable="no")


def test_a_frozen_model_stays_frozen_through_configs_and_files(tmp_path):
    model = fa.Sequential(stack(fa), seed=4)
    model.trainable = False
    config = model.get_config()
    assert config["trainable"] is False
    copies = [fa.Sequential.from_config(config), fa.models.clone_model(model),
              fa.models.model_from_json(model.to_json()),
              fa.load_model(model.save(tmp_path / "frozen.npz"))]
    for copy in copies:
        assert copy.trainable is False
        assert not any(layer.trainable for layer in copy.layers)
    old = fa.Sequential.from_config({k: v for k, v in config.items() if k != "trainable"})
    assert old.trainable is True  # a config without the key (an earlier fastann's)
