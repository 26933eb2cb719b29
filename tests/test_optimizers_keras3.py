"""Keras 3 optimizer fidelity: every rule with decoupled ``weight_decay`` and each
clipping option (``clipnorm`` per variable, ``global_clipnorm``, ``clipvalue``) against
Keras 3's own optimizers over a Dense layer's kernel and bias; the NumPy reference on
whole fits; Nadam's state through resume and save/load; and the options' validation."""
import os

import numpy as np
import pytest

import fastann as fa
from cases import assert_optimizer_run_matches_reference
from fastann import optimizers
from fastann.kernels import network as network_kernels
from fastann.kernels import optimizers as kernel
from fastann.kernels.train import EVERY_FEATURE, all_trainable

N_IN, N_OUT = 3, 4
STEPS = 6
RULES = {
    "SGD": dict(learning_rate=0.05),
    "SGD-momentum": dict(learning_rate=0.05, momentum=0.9),
    "SGD-nesterov": dict(learning_rate=0.05, momentum=0.8, nesterov=True),
    "Adam": dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99),
    "AdamW": dict(learning_rate=0.01),
    "Nadam": dict(learning_rate=0.01, beta_1=0.85, beta_2=0.99, epsilon=1e-6),
    "RMSprop": dict(learning_rate=0.01, rho=0.8),
    "Adagrad": dict(learning_rate=0.05, initial_accumulator_value=0.2),
    "Adamax": dict(learning_rate=0.01),
}
OPTIONS = {
    "plain": {},
    "weight_decay": dict(weight_decay=0.3),
    "clipnorm": dict(clipnorm=0.9, weight_decay=0.1),
    "global_clipnorm": dict(global_clipnorm=1.1),
    "clipvalue": dict(clipvalue=0.4),
}


@pytest.fixture(scope="module")
def keras(keras_x64):
    return keras_x64


def dense_table():
    """The layer table of one Dense(N_OUT) on N_IN inputs, laid out as fastann lays it
    out: the kernel at 0, the bias after it."""
    table = np.zeros((1, network_kernels.N_COLUMNS), np.int64)
    table[0, network_kernels.N_IN], table[0, network_kernels.N_OUT] = N_IN, N_OUT
    table[0, network_kernels.W_OFFSET] = 0
    table[0, network_kernels.B_OFFSET] = N_IN * N_OUT
    table[0, network_kernels.KIND] = network_kernels.DENSE
    return table


def gradient_sequence(generator):
    """Kernel gradients of norm ~3 (clipnorm clips them), bias gradients of ~0.2 (not)."""
    return [(generator.normal(size=(N_IN, N_OUT)), 0.1 * generator.normal(size=N_OUT))
            for _ in range(STEPS)]


def run_keras(keras, name, arguments, W, b, gradients, dtype):
    """W, b after Keras 3's optimizer applied the gradient sequence."""
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)  # the learning-rate variable in the model's dtype
    try:
        variables = [keras.Variable(W.astype(dtype), dtype=dtype),
                     keras.Variable(b.astype(dtype), dtype=dtype)]
        rule = getattr(keras.optimizers, name.split("-")[0])(**arguments)
        for gW, gb in gradients:
            rule.apply_gradients([(keras.ops.convert_to_tensor(gW.astype(dtype)), variables[0]),
                                  (keras.ops.convert_to_tensor(gb.astype(dtype)), variables[1])])
        return [np.asarray(v.value) for v in variables]
    finally:
        keras.config.set_floatx(previous)


def run_fastann(name, arguments, W, b, gradients, dtype):
    """W, b after fastann's update kernel applied the gradient sequence to the flat buffer."""
    ours = getattr(fa.optimizers, name.split("-")[0])(**arguments)
    params = np.concatenate([W.ravel(), b]).astype(dtype)
    state = np.zeros(kernel.state_length(params.size), dtype)
    hyper = ours.hyper(dtype)
    for step, (gW, gb) in enumerate(gradients, start=1):
        grads = np.concatenate([gW.ravel(), gb]).astype(dtype)
        kernel.apply_update(params, state, grads, dense_table(), all_trainable(params.size),
                            ours.code, hyper, dtype(ours.lr), step, EVERY_FEATURE)
    assert params.dtype == dtype and state.dtype == dtype
    return [params[:N_IN * N_OUT].reshape(N_IN, N_OUT), params[N_IN * N_OUT:]]


@pytest.mark.parametrize("option", OPTIONS, ids=OPTIONS.keys())
@pytest.mark.parametrize("name", RULES, ids=RULES.keys())
def test_rule_matches_keras_float64(name, option, keras):
    arguments = {**RULES[name], **OPTIONS[option]}
    generator = np.random.default_rng(3)
    W, b = generator.normal(size=(N_IN, N_OUT)), generator.normal(size=N_OUT)
    gradients = gradient_sequence(generator)
    expected = run_keras(keras, name, arguments, W, b, gradients, "float64")
    got = run_fastann(name, arguments, W, b, gradients, np.float64)
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert not np.allclose(got[0], W)  # the rule moved the weights


@pytest.mark.parametrize("name", ["Nadam", "AdamW", "SGD-momentum", "Adagrad"])
def test_rule_matches_keras_float32(name, keras):
    arguments = {**RULES[name], "weight_decay": 0.2, "clipnorm": 1.0}
    generator = np.random.default_rng(4)
    W, b = generator.normal(size=(N_IN, N_OUT)), generator.normal(size=N_OUT)
    gradients = gradient_sequence(generator)
    expected = run_keras(keras, name, arguments, W, b, gradients, "float32")
    got = run_fastann(name, arguments, W, b, gradients, np.float32)
    for ours, theirs in zip(got, expected):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_clipnorm_clips_each_batchnormalization_variable(keras):
    """A BatchNormalization layer's gamma and beta are clipped by their own norms."""
    table = np.zeros((1, network_kernels.N_COLUMNS), np.int64)
    table[0, network_kernels.N_IN] = table[0, network_kernels.N_OUT] = 5
    table[0, network_kernels.W_OFFSET], table[0, network_kernels.B_OFFSET] = 0, 5
    table[0, network_kernels.KIND] = network_kernels.BATCH_NORMALIZATION
    grads = np.concatenate([np.full(5, 2.0), np.full(5, 0.01)])
    kernel.clip_gradients(grads, table, all_trainable(10), 0.0, 0.0, 1.0)
    assert np.linalg.norm(grads[:5]) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_array_equal(grads[5:], np.full(5, 0.01))


FIT_CASES = {
    "nadam": ("Nadam", dict(learning_rate=0.02)),
    "nadam-decay-clipnorm": ("Nadam", dict(learning_rate=0.02, weight_decay=0.05,
                                           clipnorm=0.3)),
    "adamw": ("AdamW", dict(learning_rate=0.02)),
    "adamw-global-clipnorm": ("AdamW", dict(learning_rate=0.02, weight_decay=0.01,
                                            global_clipnorm=0.2)),
    "sgd-decay-clipvalue": ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.02,
                                        clipvalue=0.05)),
    "rmsprop-clipnorm": ("RMSprop", dict(lr=0.005, weight_decay=0.01, clipnorm=0.1)),
}


@pytest.mark.parametrize("case", FIT_CASES.values(), ids=FIT_CASES.keys())
def test_fit_matches_reference(case, build_model, make_targets):
    name, arguments = case
    assert_optimizer_run_matches_reference(name, arguments, 40, build_model,
                                           make_targets)


def nadam_model(build_model):
    return build_model((3, 6, 1), ["relu", "sigmoid"], "binary_crossentropy",
                       optimizer=fa.optimizers.Nadam(learning_rate=0.01, weight_decay=0.01),
                       seed=5)


def test_nadam_resume_and_save_load_are_bit_identical(build_model, tmp_path):
    generator = np.random.default_rng(1)
    X = generator.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(float)
    whole = nadam_model(build_model)
    whole.fit(X, y, epochs=6, batch_size=4, verbose=0)
    resumed = nadam_model(build_model)
    resumed.fit(X, y, epochs=3, batch_size=4, verbose=0)
    path = tmp_path / "nadam.npz"
    resumed.save(path)
    resumed.fit(X, y, epochs=3, batch_size=4, verbose=0)
    loaded = fa.models.load_model(path)
    assert loaded.optimizer.get_config() == resumed.optimizer.get_config()
    loaded.fit(X, y, epochs=3, batch_size=4, verbose=0)
    for a, b, c in zip(whole.get_weights(), resumed.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_names_configs_and_defaults():
    assert isinstance(optimizers.get("nadam"), fa.optimizers.Nadam)
    adamw = optimizers.get("adamw")
    assert isinstance(adamw, fa.optimizers.AdamW) and adamw.weight_decay == 0.004
    for rule in (fa.optimizers.Nadam(lr=0.2, clipnorm=1.0),
                 fa.optimizers.AdamW(learning_rate=0.3, weight_decay=0.1, global_clipnorm=2.0),
                 fa.optimizers.SGD(clipnorm=0.5, weight_decay=0.01)):
        config = rule.get_config()
        again = optimizers.from_config(config)
        assert type(again) is type(rule) and again.get_config() == config
    assert fa.optimizers.Nadam(lr=0.2).lr == 0.2
    assert fa.optimizers.Adam(weight_decay=None).weight_decay == 0.0  # Keras' "off"
    assert fa.optimizers.Adam(weight_decay=0.0).get_config()["weight_decay"] is None
    assert fa.optimizers.AdamW(weight_decay=0.0).get_config()["weight_decay"] == 0.0


@pytest.mark.parametrize("make, message", [
    (lambda: fa.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0),
     r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
     r"clipnorm=1.0, clipvalue=None, global_clipnorm=1.0"),
    (lambda: fa.optimizers.Adam(clipvalue=1.0, clipnorm=2.0), r"Only one of `clipnorm`"),
    (lambda: fa.optimizers.Nadam(clipnorm=0), r"clipnorm must be a finite number > 0; got 0"),
    (lambda: fa.optimizers.Nadam(clipnorm="1"), r"clipnorm must be a finite number > 0"),
    (lambda: fa.optimizers.AdamW(weight_decay=None),
     r"Argument `weight_decay` must be a float. Received: weight_decay=None"),
    (lambda: fa.optimizers.AdamW(weight_decay=-0.1), r"weight_decay must be a finite number"),
    (lambda: fa.optimizers.AdamW(use_ema=True),
     r"does not support AdamW\(use_ema=True\).*default use_ema=False"),
    (lambda: fa.optimizers.RMSprop(momentum=-0.5),
     r"RMSprop momentum must be a finite number in \[0, 1\]; got -0.5"),
    (lambda: fa.optimizers.Nadam(beta_1=1.0), r"beta_1 must be a finite number >= 0 and < 1"),
    (lambda: fa.optimizers.Nadam(epsilon=0), r"epsilon must be a finite number > 0"),
])
def test_bad_input(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: fa.optimizers.Adam(amsgrad="yes"), r"Adam amsgrad must be True or False"),
    (lambda: fa.optimizers.RMSprop(centered=1), r"RMSprop centered must be True or False"),
])
def test_flags_must_be_bools(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_refused_compile_leaves_the_model_unchanged(build_model):
    model = nadam_model(build_model)
    before = model.get_weights()
    with pytest.raises(ValueError, match="Only one of"):
        model.compile(optimizer=fa.optimizers.AdamW(clipnorm=1.0, clipvalue=1.0), loss="mse")
    assert model.optimizer.name == "nadam"
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


IR_SCRIPT = r"""
import re
import numpy as np
import fastann as fa
from tests.test_optimizers_keras3 import dense_table
from fastann.kernels import optimizers as kernel
from fastann.kernels.train import EVERY_FEATURE, all_trainable

for rule in (fa.optimizers.Nadam(weight_decay=0.1, clipnorm=0.5),
             fa.optimizers.AdamW(global_clipnorm=0.5), fa.optimizers.SGD(clipvalue=0.1)):
    params = np.ones(16, np.float32)
    state = np.zeros(kernel.state_length(16), np.float32)
    for step in (1, 2):
        kernel.apply_update(params, state, np.full(16, 0.5, np.float32), dense_table(),
                            all_trainable(16), rule.code, rule.hyper(np.float32),
                            np.float32(rule.lr), step, EVERY_FEATURE)
    assert params.dtype == np.float32
for dispatcher in (kernel.nadam_update, kernel.adam_update, kernel.sgd_update,
                   kernel.clip_by_norm, kernel.clip_gradients):
    assert dispatcher.signatures, dispatcher
    for signature in dispatcher.signatures:
        assert "float64" not in str(signature), (dispatcher, signature)
        ir = dispatcher.inspect_llvm(signature)
        doubles = re.findall(
            r"= (?:fadd|fsub|fmul|fdiv|fcmp \w+|fpext|sitofp|uitofp)[^%\n]*?\bdouble\b", ir)
        assert re.findall(r"= (?:fadd|fsub|fmul|fdiv)[^%]*? float\b", ir), dispatcher
        assert not doubles, (dispatcher.py_func.__name__, doubles[:5])
print("checked")
"""


def test_float32_rules_do_float32_arithmetic_only(tmp_path):
    """Compiled afresh (the IR of cached code is not kept): no float64 operation in the
    new rules and the clipping kernels of a float32 model."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": os.pathsep.join([root, os.path.join(root, "tests")])}
    done = subprocess.run([sys.executable, "-c", IR_SCRIPT], env=env, cwd=root,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "checked" in done.stdout
