"""The optimizer rules added for Keras (Adagrad, Adamax, Adam's amsgrad, RMSprop's momentum
and centred forms) and gradient clipping (clipvalue, global_clipnorm, clipnorm): whole
training runs against the NumPy reference, single steps against Keras 3's own
optimizers, and their options."""
import os

import numpy as np
import pytest

import fastann as fa
from cases import assert_optimizer_run_matches_reference
from fastann import optimizers
from fastann.kernels.train import EVERY_FEATURE, all_trainable

CASES = {
    "adagrad": ("Adagrad", dict(learning_rate=0.05)),
    "adagrad-initial": ("Adagrad", dict(learning_rate=0.02, initial_accumulator_value=0.5,
                                        epsilon=1e-6)),
    "adamax": ("Adamax", dict(learning_rate=0.01)),
    "adamax-decay": ("Adamax", dict(learning_rate=0.005, beta_1=0.8, beta_2=0.95,
                                    weight_decay=0.01)),
    "sgd-clipvalue": ("SGD", dict(lr=0.1, momentum=0.5, clipvalue=0.05)),
    "adam-global-clipnorm": ("Adam", dict(lr=0.003, global_clipnorm=0.1)),
    "rmsprop-clipnorm": ("RMSprop", dict(lr=0.002, clipnorm=0.5)),
    "adam-amsgrad": ("Adam", dict(learning_rate=0.01, amsgrad=True, beta_2=0.5)),
    "adamw-amsgrad": ("AdamW", dict(learning_rate=0.01, amsgrad=True, weight_decay=0.02)),
    "rmsprop-momentum": ("RMSprop", dict(learning_rate=0.003, momentum=0.6)),
    "rmsprop-centered": ("RMSprop", dict(learning_rate=0.003, centered=True, rho=0.8)),
    "rmsprop-centered-momentum": ("RMSprop", dict(learning_rate=0.002, momentum=0.9,
                                                  centered=True, epsilon=1e-5)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_runs_match_reference(case, build_model, make_targets):
    name, arguments = case
    assert_optimizer_run_matches_reference(name, arguments, 200, build_model,
                                           make_targets)


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("case", ["adagrad", "adamax", "sgd-clipvalue",
                                  "adam-global-clipnorm", "adam-amsgrad", "adamw-amsgrad",
                                  "rmsprop-momentum", "rmsprop-centered",
                                  "rmsprop-centered-momentum"])
def test_three_steps_match_keras(case, keras):
    """Three updates of one float32 variable by Keras 3's optimizer and by the kernels."""
    name, arguments = CASES[case]
    keras_arguments = {("learning_rate" if k == "lr" else k): v for k, v in arguments.items()}
    generator = np.random.default_rng(1)
    w0 = generator.normal(size=6).astype(np.float32)
    gradients = [generator.normal(size=6).astype(np.float32) for _ in range(3)]
    variable = keras.Variable(w0.copy())
    keras_optimizer = getattr(keras.optimizers, name)(**keras_arguments)
    for g in gradients:
        keras_optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    ours = getattr(fa.optimizers, name)(**arguments)
    from fastann.kernels import network
    from fastann.kernels import optimizers as kernel
    params = w0.copy()
    state = np.zeros(kernel.state_length(6), np.float32)
    hyper = ours.hyper(np.float32)
    layers = np.zeros((1, network.N_COLUMNS), np.int64)  # one Dense(6) without bias
    layers[0, network.N_IN], layers[0, network.N_OUT], layers[0, network.B_OFFSET] = 1, 6, -1
    for step, g in enumerate(gradients, start=1):
        kernel.apply_update(params, state, g.copy(), layers, all_trainable(6), ours.code,
                            hyper, np.float32(ours.lr), step, EVERY_FEATURE)
    np.testing.assert_allclose(params, np.asarray(variable.value), rtol=2e-5, atol=2e-6)


def test_options_configs_and_bad_input():
    adagrad = fa.optimizers.Adagrad(learning_rate=0.01, clipvalue=1.0)
    assert adagrad.lr == 0.01 and fa.optimizers.Adagrad(lr=0.2).lr == 0.2
    config = adagrad.get_config()
    assert config["name"] == "adagrad" and config["clipvalue"] == 1.0
    assert config["global_clipnorm"] is None and config["clipnorm"] is None  # Keras' keys
    again = optimizers.from_config(config)
    assert again.get_config() == config
    assert optimizers.get("adamax").name == "adamax"
    with pytest.raises(ValueError, match=r"clipvalue must be a finite number > 0; got -1"):
        fa.optimizers.SGD(clipvalue=-1)
    with pytest.raises(ValueError, match=r"global_clipnorm must be a finite number > 0"):
        fa.optimizers.Adam(global_clipnorm=0)
    with pytest.raises(ValueError, match=r"initial_accumulator_value must be a finite"):
        fa.optimizers.Adagrad(initial_accumulator_value=-0.1)
