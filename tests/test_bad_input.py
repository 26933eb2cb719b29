"""Bad input raises a ValueError or TypeError that names the problem, before anything
changes: the weights, the epoch count, the optimizer state and the shuffling stream are
as they were (checked by training on afterwards and comparing with an untouched twin).
And a diverging run raises FloatingPointError with the weights of its last good epoch.
"""
import numpy as np
import pytest

import fastann as fa
from fastann.model import NotReadyError

N_SAMPLES = 12


def data(n_features=3, seed=0):
    random = np.random.default_rng(seed)
    X = random.normal(size=(N_SAMPLES, n_features))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    y[:2] = [0, 1]
    return X, y


def binary_model(dtype="float64", seed=0, optimizer=None, **compile_options):
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=3, dtype=dtype, seed=seed)
    model.compile(loss="binary_crossentropy",
                  optimizer=optimizer or fa.SGD(lr=0.1, momentum=0.9), **compile_options)
    return model


def softmax_model(loss, n_classes=3):
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(n_classes, activation="softmax")],
                     input_dim=3, dtype="float64", seed=0)
    model.compile(loss=loss, optimizer=fa.Adam(lr=0.01))
    return model


def trained_twins():
    """Two identical models, trained a little (so momentum and the shuffling stream
    carry state): one to receive bad input, one left alone."""
    X, y = data()
    twins = []
    for _ in range(2):
        model = binary_model(metrics=["accuracy"])
        model.fit(X, y, epochs=3, batch_size=5, verbose=0)
        twins.append(model)
    return twins


def snapshot(model):
    return [w.copy() for w in model.get_weights()], model.epochs_trained


def assert_unchanged(model, before):
    weights, epochs = before
    assert model.epochs_trained == epochs
    for now, then in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(now, then)


def assert_twins_still_identical(model, twin):
    """Nothing hidden changed either: both train on to the same weights."""
    X, y = data()
    for m in (model, twin):
        m.fit(X, y, epochs=4, batch_size=5, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


X_GOOD, Y_GOOD = data()
NAN_X = X_GOOD.copy()
NAN_X[3, 1] = np.nan
INF_X = X_GOOD.copy()
INF_X[0, 0] = -np.inf
NAN_Y = Y_GOOD.astype(float)
NAN_Y[5] = np.nan
INF_Y = Y_GOOD.astype(float)
INF_Y[5] = np.inf

# (id, fit keyword arguments, exception, message pattern)
BAD_FIT = [
    ("nan-X", dict(X=NAN_X), ValueError, r"x contains NaN or infinite values \(1 of 36\)"),
    ("inf-X", dict(X=INF_X), ValueError, r"x contains NaN or infinite"),
    ("nan-y", dict(y=NAN_Y), ValueError, r"y contains NaN or infinite"),
    ("inf-y", dict(y=INF_Y), ValueError, r"y contains NaN or infinite"),
    ("1-D-X", dict(X=X_GOOD[:, 0]), ValueError, r"x must be 2-D.*got shape \(12,\).*reshape"),
    ("3-D-X", dict(X=X_GOOD[None]), ValueError, r"x must be 2-D.*\(1, 12, 3\)"),
    ("scalar-X", dict(X=1.0), ValueError, r"x must be 2-D"),
    ("string-X", dict(X=[["a", "b", "c"]] * N_SAMPLES), TypeError, r"x must be numeric"),
    ("object-X", dict(X=np.array([[1, None, 2]] * N_SAMPLES)), TypeError, r"x must be numeric"),
    ("complex-X", dict(X=X_GOOD + 1j), TypeError, r"x must be real-valued"),
    ("short-y", dict(y=Y_GOOD[:-1]), ValueError, r"y must have one row per sample of X \(12\); "
                                                 r"got 11 rows"),
    ("long-y", dict(y=np.append(Y_GOOD, 1)), ValueError, r"one row per sample.*got 13 rows"),
    ("scalar-y", dict(y=1), ValueError, r"y must have one row per sample.*a scalar"),
    ("features", dict(X=X_GOOD[:, :2]), ValueError, r"x has 2 features but the model expects "
                                                    r"3 \(input_dim\)"),
    ("empty-X", dict(X=np.zeros((0, 3)), y=np.zeros(0)), ValueError, r"x is empty"),
    ("labels-2", dict(y=np.where(Y_GOOD == 1, 2, 0)), ValueError,
     r"binary_crossentropy must hold labels 0 or 1; got \[2\]"),
    ("labels-negative", dict(y=-Y_GOOD), ValueError, r"labels 0 or 1; got \[-1\]"),
    ("labels-fraction", dict(y=Y_GOOD * 0.5), ValueError, r"labels 0 or 1; got \[0.5\]"),
    ("y-width", dict(y=np.stack([Y_GOOD, Y_GOOD], axis=1)), ValueError,
     r"1 output unit\(s\) must have shape \(n_samples,\) or \(n_samples, 1\); got shape "
     r"\(12, 2\)"),
    ("epochs-0", dict(epochs=0), ValueError, r"epochs must be a positive int; got 0"),
    ("epochs-negative", dict(epochs=-3), ValueError, r"epochs must be a positive int"),
    ("epochs-float", dict(epochs=2.5), ValueError, r"epochs must be a positive int; got 2.5"),
    ("epochs-bool", dict(epochs=True), ValueError, r"epochs must be a positive int; got True"),
    ("epochs-str", dict(epochs="10"), ValueError, r"epochs must be a positive int"),
    ("batch-0", dict(batch_size=0), ValueError, r"batch_size must be a positive int; "
                                                r"got 0"),
    ("batch-negative", dict(batch_size=-1), ValueError, r"batch_size must be a positive int"),
    ("batch-float", dict(batch_size=4.0), ValueError, r"batch_size must be a positive int"),
    ("verbose", dict(verbose=3), ValueError, r"verbose must be 'auto', 0, 1, 2, True or False; got 3"),
    ("callbacks", dict(callbacks=[print]), TypeError, r"callbacks must be .*Callback"),
    ("split-1", dict(validation_split=1.0), ValueError, r"validation_split must be a number in "
                                                        r"\[0, 1\); got 1.0"),
    ("split-negative", dict(validation_split=-0.1), ValueError, r"validation_split must be"),
    ("split-str", dict(validation_split="0.2"), ValueError, r"validation_split must be"),
    ("split-no-training-rows", dict(validation_split=0.95), ValueError,
     r"validation_split=0.95 leaves 0 of 12 rows for training; both parts need at least one"),
    ("split-no-validation-rows", dict(validation_split=1e-17), ValueError,
     r"validation_split=1e-17 leaves 12 of 12 rows for training"),
    ("split-and-data", dict(validation_split=0.2, validation_data=(X_GOOD, Y_GOOD)), ValueError,
     r"either validation_split or validation_data, not both"),
    ("val-not-tuple", dict(validation_data=X_GOOD), ValueError,
     r"validation_data must be a tuple \(x_val, y_val\)"),
    ("val-1-tuple", dict(validation_data=(X_GOOD,)), ValueError, r"validation_data must be"),
    ("val-4-tuple", dict(validation_data=(X_GOOD, Y_GOOD, None, None)), ValueError,
     r"validation_data must be"),
    ("val-features", dict(validation_data=(X_GOOD[:, :2], Y_GOOD)), ValueError,
     r"validation_data X has 2 features but the model expects 3"),
    ("val-nan", dict(validation_data=(NAN_X, Y_GOOD)), ValueError,
     r"validation_data X contains NaN"),
    ("val-y-length", dict(validation_data=(X_GOOD, Y_GOOD[:5])), ValueError,
     r"validation_data y must have one row per sample of X \(12\); got 5 rows"),
    ("val-labels", dict(validation_data=(X_GOOD, Y_GOOD + 1)), ValueError,
     r"labels 0 or 1; got \[2\]"),
    ("val-weights", dict(validation_data=(X_GOOD, Y_GOOD, np.ones(3))), ValueError,
     r"validation_data sample_weight must have shape \(12,\)"),
    ("weight-shape", dict(sample_weight=np.ones(11)), ValueError,
     r"sample_weight must have shape \(12,\), one weight per sample; got \(11,\)"),
    ("weight-2-D", dict(sample_weight=np.ones((12, 1))), ValueError,
     r"sample_weight must have shape \(12,\)"),
    ("weight-nan", dict(sample_weight=np.r_[np.ones(11), np.nan]), ValueError,
     r"sample_weight contains NaN"),
    ("class-weight-list", dict(class_weight=[1.0, 2.0]), TypeError,
     r"class_weight must be a dict \{class: weight\}; got list"),
    ("class-weight-key", dict(class_weight={0: 1.0, 2: 3.0}), ValueError,
     r"class_weight keys must be class labels 0..1; got 2"),
    ("class-weight-str-key", dict(class_weight={"0": 1.0}), ValueError,
     r"class_weight keys must be class labels"),
    ("class-weight-negative", dict(class_weight={1: -1.0}), ValueError,
     r"class_weight\[1\] must be a finite number >= 0; got -1.0"),
    ("class-weight-nan", dict(class_weight={1: float("nan")}), ValueError,
     r"class_weight\[1\] must be a finite number"),
    ("class-weight-str", dict(class_weight={1: "2"}), ValueError,
     r"class_weight\[1\] must be a finite number"),
]


@pytest.mark.parametrize("case", BAD_FIT, ids=[case[0] for case in BAD_FIT])
def test_bad_fit_input_raises_before_anything_changes(case):
    _, kwargs, error, pattern = case
    model, twin = trained_twins()
    before = snapshot(model)
    arguments = dict(X=X_GOOD, y=Y_GOOD, epochs=2, batch_size=5, verbose=0)
    arguments.update(kwargs)
    X, y = arguments.pop("X"), arguments.pop("y")
    with pytest.raises(error, match=pattern):
        model.fit(X, y, **arguments)
    assert_unchanged(model, before)
    assert len(model.history.history["loss"]) == 3  # the last successful fit's History
    assert_twins_still_identical(model, twin)


def test_bad_input_to_an_unbuilt_model_leaves_it_unbuilt():
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    for X, y, pattern in [(NAN_X, Y_GOOD, "NaN"), (X_GOOD, Y_GOOD[:3], "one row per sample"),
                          (X_GOOD, Y_GOOD + 1, "labels 0 or 1"), (X_GOOD[:, 0], Y_GOOD, "2-D")]:
        with pytest.raises(ValueError, match=pattern):
            model.fit(X, y, verbose=0)
        assert not model.built and model.input_dim is None and model.epochs_trained == 0
    model.fit(X_GOOD[:, :2], Y_GOOD, verbose=0)  # the first good fit decides input_dim
    assert model.input_dim == 2


def test_an_unbuilt_model_rejects_bad_validation_data_before_building():
    model = fa.Model([fa.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    with pytest.raises(ValueError, match="validation_data X has 2 features but the model "
                                         "expects 3"):
        model.fit(X_GOOD, Y_GOOD, validation_data=(X_GOOD[:, :2], Y_GOOD), verbose=0)
    assert not model.built


SPARSE = "sparse_categorical_crossentropy"
BAD_TARGETS = [
    (SPARSE, np.r_[np.zeros(11), 3], r"class labels 0..2 \(the output layer has 3 units\); "
                                     r"got \[3.0\]"),
    (SPARSE, np.r_[np.zeros(11), -1], r"class labels 0..2.*got \[-1.0\]"),
    (SPARSE, np.r_[np.zeros(11), 1.5], r"class labels 0..2.*got \[1.5\]"),
    (SPARSE, np.zeros((12, 3)), r"sparse_categorical_crossentropy must be integer class labels "
                                r"of shape \(n_samples,\); got shape \(12, 3\)"),
    ("categorical_crossentropy", np.eye(4)[np.arange(12) % 4],
     r"categorical_crossentropy must be one-hot of shape \(n_samples, 3\) to match the output "
     r"layer; got shape \(12, 4\)"),
    ("categorical_crossentropy", np.eye(2)[np.arange(12) % 2], r"one-hot of shape .*\(12, 2\)"),
    ("categorical_crossentropy", np.arange(12) % 3,
     r"got shape \(12,\)\. For integer class labels use loss='sparse_categorical_crossentropy'"),
    ("categorical_crossentropy", 2 * np.eye(3)[np.arange(12) % 3], r"class probabilities in "
                                                                    r"\[0, 1\]"),
]


@pytest.mark.parametrize("loss, y, pattern", BAD_TARGETS)
def test_bad_categorical_targets(loss, y, pattern):
    model = softmax_model(loss)
    good = np.arange(12) % 3 if loss == SPARSE else np.eye(3)[np.arange(12) % 3]
    model.fit(X_GOOD, good, epochs=2, verbose=0)
    before = snapshot(model)
    with pytest.raises(ValueError, match=pattern):
        model.fit(X_GOOD, y, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=pattern):
        model.evaluate(X_GOOD, y, verbose=0, return_dict=True)
    assert_unchanged(model, before)


def test_class_weight_needs_a_classification_loss():
    model = fa.Model([fa.Dense(1)], input_dim=3, seed=0)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"class_weight needs a classification loss.*'mean_sq"):
        model.fit(X_GOOD, Y_GOOD, class_weight={0: 1.0}, verbose=0)
    assert model.epochs_trained == 0


def test_sparse_class_weight_key_beyond_the_classes():
    model = softmax_model(SPARSE)
    with pytest.raises(ValueError, match=r"class_weight keys must be class labels 0..2; got 3"):
        model.fit(X_GOOD, np.arange(12) % 3, class_weight={3: 2.0}, verbose=0)


@pytest.mark.parametrize("factory, pattern", [
    (lambda: fa.Dense(4, activation="relux"), r"unknown activation 'relux'; expected one of "
                                              r".*'relu'.*'sigmoid'"),
    (lambda: fa.Dense(4, activation=3), r"activation must be a name \(str\); got int 3"),
    (lambda: fa.Dense(4, kernel_initializer="orthogonal"), r"unknown kernel_initializer 'orthogonal'; "
                                                      r"expected one of .*'glorot_uniform'"),
    (lambda: fa.Dense(0), r"Dense units must be a positive int; got 0"),
    (lambda: fa.Dense(2.0), r"Dense units must be a positive int; got 2.0"),
    (lambda: fa.Dense(4, init_scale=0), r"init_scale must be > 0"),
    (lambda: fa.Dense(4, negative_slope=1.5), r"negative_slope must be in \[0, 1\)"),
])
def test_bad_layer_options(factory, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        factory()


@pytest.mark.parametrize("factory, error, pattern", [
    (lambda: fa.Model(fa.Dense(1)), TypeError, r"layers must be a list of fastann layers .*"
                                               r"got a single Dense"),
    (lambda: fa.Model([fa.Dense(1), "dense"]), TypeError,
     r"layers must be a list of fastann layers such as fastann.Dense; layers\[1\] is str"),
    (lambda: fa.Model([fa.Dense(1), fa.Input(shape=(3,))]), ValueError,
     r"an Input can only be the first layer; it is layers\[1\]"),
    (lambda: fa.Model([fa.Dense(1, input_shape=(3, 4))]), fa.NotSupportedError,
     r"fastann does not support Dense layers on inputs of shape \(3, 4\).*Flatten"),
    (lambda: fa.Model([fa.Input(shape=(2,)), fa.Dense(1)], input_dim=3), ValueError,
     r"input_dim=3 disagrees with the first layer's input shape \(2,\)"),
    (lambda: fa.Model(inputs=fa.Input(shape=(2,)), outputs=None), fa.NotSupportedError,
     r"fastann does not support the functional API"),
    (lambda: fa.Sequential([fa.Dense(1)], trainable=None), TypeError,
     r"Sequential trainable must be True or False; got None"),
    (lambda: fa.Model([fa.Dense(1)], dtype="float16"), ValueError,
     r"dtype must be 'float32' or 'float64'; got 'float16'"),
    (lambda: fa.Model([fa.Dense(1)], dtype="double precision"), ValueError, r"dtype must be"),
    (lambda: fa.Model([fa.Dense(1)], input_dim=0), ValueError,
     r"input_dim must be a positive int or None; got 0"),
    (lambda: fa.Model([fa.Dense(1)], seed=-1), ValueError, r"seed must be an int in "
                                                            r"\[0, 2\*\*32\); got -1"),
    (lambda: fa.Model([fa.Dense(1)], seed=1.5), ValueError, r"seed must be an int"),
])
def test_bad_model_options(factory, error, pattern):
    with pytest.raises(error, match=pattern):
        factory()


@pytest.mark.parametrize("compile_options, error, pattern", [
    (dict(loss="cosine_similarity"), ValueError, r"unknown loss 'cosine_similarity'; expected one of "
                                     r".*'binary_crossentropy'"),
    (dict(loss=None), ValueError, r"compile needs loss=...: fastann has no add_loss"),
    (dict(loss=lambda y, p: 0), fa.NotSupportedError, r"fastann does not support a callable loss"),
    (dict(loss="mse", loss_weights=[0.5]), fa.NotSupportedError, r"not support loss_weights"),
    (dict(loss="mse", weighted_metrics=["mae"]), fa.NotSupportedError, r"weighted_metrics"),
    (dict(loss="mse", run_eagerly=True), fa.NotSupportedError, r"run_eagerly=True"),
    (dict(loss="mse", steps_per_execution=0), ValueError, r"steps_per_execution must be a "
                                                          r"positive int; got 0"),
    (dict(loss="mse", jit_compile="xla"), ValueError, r"jit_compile must be 'auto', True or "
                                                      r"False; got 'xla'"),
    (dict(loss="mse", metrics={"out": "mae"}), fa.NotSupportedError, r"a dict of metrics"),
    (dict(loss="binary_crossentropy", optimizer="adadelta"), ValueError,
     r"unknown optimizer 'adadelta'; expected one of .*'adagrad', 'adam'"),
    (dict(loss="binary_crossentropy", optimizer=0.1), TypeError, r"optimizer must be a name"),
    (dict(loss="binary_crossentropy", metrics=["f1_score"]), ValueError,
     r"unknown metric 'f1_score'; expected one of .*'accuracy'"),
    (dict(loss="binary_crossentropy", metrics=[None]), TypeError, r"metric must be a name"),
    (dict(loss="categorical_crossentropy"), ValueError,
     r"loss 'categorical_crossentropy' needs a 'softmax' output layer.*uses 'sigmoid'"),
])
def test_bad_compile_options_leave_the_model_as_it_was(compile_options, error, pattern):
    model, twin = trained_twins()
    before = snapshot(model)
    with pytest.raises(error, match=pattern):
        model.compile(**compile_options)
    assert_unchanged(model, before)
    assert model.loss_spec.name == "binary_crossentropy" and model.metrics_names == ["loss", "accuracy"]
    assert_twins_still_identical(model, twin)  # the optimizer state was not reset


@pytest.mark.parametrize("factory, pattern", [
    # a rate of 0 is accepted, as Keras does (a frozen run)
    (lambda: fa.SGD(lr=-0.1), r"SGD lr must be a finite number >= 0; got -0.1"),
    (lambda: fa.SGD(lr=float("nan")), r"SGD lr must be a finite number >= 0"),
    (lambda: fa.SGD(lr=float("inf")), r"SGD lr must be a finite number >= 0"),
    (lambda: fa.SGD(lr="0.1"), r"SGD lr must be a finite number >= 0"),
    (lambda: fa.Adam(lr=-1e-9), r"Adam lr must be a finite number >= 0; got -1e-09"),
    (lambda: fa.Adam(learning_rate=-1.0), r"Adam learning_rate must be a finite number >= 0"),
    (lambda: fa.RMSprop(learning_rate=float("-inf")), r"RMSprop learning_rate must be a finite"),
    (lambda: fa.SGD(momentum=1.5), r"momentum must be a finite number in \[0, 1\]; got 1.5"),
    (lambda: fa.SGD(momentum=-0.5), r"momentum must be"),
    (lambda: fa.Adam(beta_1=1.5), r"beta_1 must be"),
    (lambda: fa.Adam(epsilon=0), r"epsilon must be a finite number > 0"),
    (lambda: fa.RMSprop(rho=1.0), r"rho must be"),
    (lambda: fa.SGD(weight_decay=-1e-4), r"weight_decay must be a finite number >= 0"),
])
def test_bad_optimizer_hyper_parameters(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_fit_and_evaluate_before_compile():
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=3, seed=0)
    before = snapshot(model)
    with pytest.raises(NotReadyError, match=r"fit: the model is not compiled; call "
                                           r"model.compile\(optimizer=..., loss=...\) first"):
        model.fit(X_GOOD, Y_GOOD, verbose=0)
    with pytest.raises(NotReadyError, match=r"evaluate: the model is not compiled"):
        model.evaluate(X_GOOD, Y_GOOD, verbose=0, return_dict=True)
    assert_unchanged(model, before)


def test_predict_before_the_input_size_is_known():
    model = fa.Model([fa.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    for action in (model.predict, model.predict_proba):
        with pytest.raises(NotReadyError, match=r"the model's input size is not known yet; pass "
                                               r"input_dim=\.\.\. to Model \(or input_shape=\(n,\) to the first "
                                               r"layer\) or call fit first"):
            action(X_GOOD)
    for action in (model.get_weights, model.count_params, lambda: model.set_weights([])):
        with pytest.raises(NotReadyError, match=r"input size is not known yet"):
            action()
    with pytest.raises(NotReadyError, match=r"evaluate: the model's input size is not known"):
        model.evaluate(X_GOOD, Y_GOOD, verbose=0, return_dict=True)
    assert not model.built
    # caught as Keras users catch it, and as fastann's other input errors
    assert issubclass(NotReadyError, RuntimeError) and issubclass(NotReadyError, ValueError)


@pytest.mark.parametrize("X, error, pattern", [
    (NAN_X, ValueError, r"x contains NaN"),
    (X_GOOD[:, :2], ValueError, r"x has 2 features but the model expects 3"),
    (X_GOOD[0], ValueError, r"x must be 2-D.*reshape a single sample with X.reshape\(1, -1\)"),
    (np.zeros((0, 3)), ValueError, r"x is empty"),
    ([["x", "y", "z"]], TypeError, r"x must be numeric"),
])
def test_bad_inference_input(X, error, pattern):
    model = binary_model()
    for action in (model.predict, model.predict_proba, lambda X: model.evaluate(X, Y_GOOD, verbose=0, return_dict=True)):
        with pytest.raises(error, match=pattern):
            action(X)


def test_evaluate_checks_y_and_sample_weight():
    model = binary_model()
    with pytest.raises(ValueError, match=r"y must have one row per sample of X \(12\); got 4"):
        model.evaluate(X_GOOD, Y_GOOD[:4], verbose=0, return_dict=True)
    with pytest.raises(ValueError, match=r"labels 0 or 1"):
        model.evaluate(X_GOOD, Y_GOOD * 3, verbose=0, return_dict=True)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(12,\)"):
        model.evaluate(X_GOOD, Y_GOOD, sample_weight=np.ones(2), verbose=0, return_dict=True)


@pytest.mark.parametrize("layers, loss", [
    ([fa.Dense(4, activation="step"), fa.Dense(1, activation="sigmoid")],
     "binary_crossentropy"),
    ([fa.Dense(4, activation="relu"), fa.Dense(1, activation="step")], "mse"),
])
def test_training_through_a_step_layer_says_why_and_what_to_use(layers, loss):
    model = fa.Model(layers, input_dim=3, seed=0)
    model.compile(loss=loss)
    before = snapshot(model)
    index = [layer.activation for layer in layers].index("step")
    with pytest.raises(ValueError, match=rf"layer {index} uses the 'step' activation, whose "
                                         r"derivative is zero .* gradient descent cannot train "
                                         r"it\. Train with 'sigmoid'.*'step' only for inference"):
        model.fit(X_GOOD, Y_GOOD, verbose=0)
    assert_unchanged(model, before)
    assert model.predict_proba(X_GOOD).shape == (12, 1)  # inference works


def test_step_output_cannot_be_compiled_with_a_cross_entropy():
    model = fa.Model([fa.Dense(1, activation="step")], input_dim=3)
    with pytest.raises(ValueError, match=r"needs a 'sigmoid' output layer.*uses 'step'"):
        model.compile(loss="binary_crossentropy")


SET_WEIGHTS_CASES = [
    ("count-short", lambda w: w[:3], ValueError,
     r"set_weights expects 4 arrays \[W1, b1, \.\.\.\]; got 3"),
    ("count-long", lambda w: w + [w[-1]], ValueError, r"set_weights expects 4 arrays.*got 5"),
    ("W2-shape", lambda w: w[:2] + [w[2].T] + w[3:], ValueError,
     r"weights\[2\] \(W2\) must have shape \(4, 1\); got \(1, 4\)"),
    ("b2-shape", lambda w: w[:3] + [np.zeros((1, 1))], ValueError,
     r"weights\[3\] \(b2\) must have shape \(1,\); got \(1, 1\)"),
    ("W1-transposed", lambda w: [w[0].T] + w[1:], ValueError,
     r"weights\[0\] \(W1\) must have shape \(3, 4\); got \(4, 3\)"),
    ("b2-nan", lambda w: w[:3] + [np.array([np.nan])], ValueError,
     r"weights\[3\] \(b2\) contains NaN"),
    ("b1-str", lambda w: [w[0], np.array(["a"] * 4)] + w[2:], TypeError,
     r"weights\[1\] \(b1\) must be numeric"),
]


@pytest.mark.parametrize("case", SET_WEIGHTS_CASES, ids=[c[0] for c in SET_WEIGHTS_CASES])
def test_set_weights_rejects_wrong_arrays_and_changes_nothing(case):
    _, mutate, error, pattern = case
    model, twin = trained_twins()
    before = snapshot(model)
    # every good array is changed too, so a partial write would show
    weights = [w + 1.0 for w in model.get_weights()]
    with pytest.raises(error, match=pattern):
        model.set_weights(mutate(weights))
    assert_unchanged(model, before)
    assert_twins_still_identical(model, twin)


# ------------------------------------------------------------------ divergence
def diverging_setup(dtype):
    """Linear regression by gradient descent with lr 0.6, just above 2 / (the largest
    eigenvalue of the loss's Hessian, 3.89): the error grows by about a third every
    epoch and overflows after hundreds of epochs (float32) or a thousand (float64)."""
    random = np.random.default_rng(3)
    X = random.normal(size=(32, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 1

    def build():
        model = fa.Model([fa.Dense(1)], input_dim=4, dtype=dtype, seed=7)
        model.compile(loss="mse", optimizer=fa.SGD(lr=0.6))
        return model
    return X, y, build


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [None, 8])
def test_divergence_raises_and_keeps_the_last_good_epoch(dtype, batch_size):
    X, y, build = diverging_setup(dtype)
    model = build()
    with pytest.raises(FloatingPointError, match=r"training diverged: the loss or the weights "
                                                 r"became NaN or infinite in epoch \d+\. The "
                                                 r"model keeps the weights of epoch \d+"):
        model.fit(X, y, epochs=100_000, batch_size=batch_size, verbose=0)
    good = model.epochs_trained
    assert 50 <= good < 100_000  # it diverged after many good epochs, not at once
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    losses = model.history.history["loss"]
    assert len(losses) == good and np.isfinite(losses).all()
    assert losses[-1] > 1e30 * losses[0]  # it really was running away

    fresh = build()  # the same run, stopped by hand at the last good epoch
    history = fresh.fit(X, y, epochs=good, batch_size=batch_size, verbose=0)
    for a, b in zip(weights, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(losses, history.history["loss"])
    assert model.predict_proba(X).dtype == np.dtype(dtype)
    # the next epoch diverges again, for both: the state is that of epoch `good`
    with pytest.raises(FloatingPointError, match=rf"in epoch {good + 1}\. The model keeps the "
                                                 rf"weights of epoch {good} "):
        model.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
    with pytest.raises(FloatingPointError, match=rf"in epoch {good + 1}\."):
        fresh.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
    assert model.epochs_trained == fresh.epochs_trained == good
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_goes_on_after_divergence():
    X, y, build = diverging_setup("float64")
    model = build()
    with pytest.raises(FloatingPointError):
        model.fit(X, y, epochs=100_000, verbose=0)
    good = model.epochs_trained
    model.set_weights(build().get_weights())  # start again, more slowly
    model.compile(loss="mse", optimizer=fa.SGD(lr=0.1))
    history = model.fit(X, y, epochs=50, verbose=0)
    assert model.epochs_trained == good + 50
    losses = history.history["loss"]
    assert len(losses) == 50 and np.isfinite(losses).all() and losses[-1] < 0.01 * losses[0]
