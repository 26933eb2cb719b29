"""The kernels compile only the option families a model uses (``kernels.train.Features``).

Run in fresh processes on an empty Numba cache, so every kernel a fit needs is compiled
(not loaded) there and its dispatcher lists the signature.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastann as fa
from fastann.kernels import train as train_kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAMILIES = """
from fastann.kernels import activations, losses, optimizers
FAMILIES = {
    "smooth activations": [activations.smooth_forward, activations.smooth_backward],
    "focal loss": [losses.focal_loss_and_delta],
    "poisson deviance": [losses.poisson_deviance_and_delta],
    "regression losses": [losses.regression_loss_and_delta],
    "adam": [optimizers.adam_update], "rmsprop": [optimizers.rmsprop_update],
    "adagrad": [optimizers.adagrad_update], "adamax": [optimizers.adamax_update],
    "nadam": [optimizers.nadam_update], "sgd": [optimizers.sgd_update],
    "clipping": [optimizers.clip_gradients], "weight decay": [optimizers.decay_weights],
}
compiled = sorted(name for name, kernels in FAMILIES.items()
                  if any(kernel.signatures for kernel in kernels))
print(",".join(compiled))
"""

PLAIN = """
import numpy as np
import fastann as fa
X = np.random.default_rng(0).normal(size=(32, 3))
y = (X.sum(1) > 0).astype(np.float64)
model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")],
                 input_dim=3, dtype="float64", seed=0)
model.compile(loss="binary_crossentropy", optimizer=fa.SGD(0.1))
model.fit(X, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
model.predict(X, verbose=0)
model.evaluate(X, y, verbose=0)
"""

def compiled_families(script, tmp_path):
    """The families whose kernels ``script`` compiled, in a fresh process and cache."""
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
                       PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script) + FAMILIES],
                          capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr
    return set(filter(None, done.stdout.strip().splitlines()[-1].split(",")))


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing compiles")
def test_a_classic_model_compiles_the_lean_loop(tmp_path):
    """Fit, validation, predict and evaluate of a classic model compile none of the
    other families (each family's own kernels compute the same numbers as before in
    the tests of its options, which run the full loop)."""
    assert compiled_families(PLAIN, tmp_path) == {"sgd", "adam", "rmsprop"}


def features_of(model, update=True):
    network, objective = model._network(), model._objective(model._metric_codes)
    if not update:
        return train_kernels.features(network, objective)
    return train_kernels.features(network, objective, train_kernels.Update(
        model.optimizer.code, model.optimizer.hyper(model.dtype),
        np.zeros((1, 1), model.dtype), train_kernels.all_trainable(model.count_params()),
        model.optimizer.state_in_use(model.count_params())))


CLASSIC = {"activation": "tanh", "loss": "binary_crossentropy", "optimizer": "rmsprop"}


@pytest.mark.parametrize("option, value", [
    (None, None), ("activation", "softplus"), ("activation", "mish"), ("loss", "huber"),
    ("loss", "binary_focal_crossentropy"), ("optimizer", "nadam"), ("optimizer", "adagrad"),
    ("optimizer", fa.optimizers.RMSprop(global_clipnorm=2.0)),
    ("optimizer", fa.optimizers.SGD(clipvalue=0.5)), ("optimizer", fa.optimizers.AdamW()),
    ("optimizer", fa.optimizers.Adam(clipnorm=1.0)),
    ("optimizer", fa.optimizers.Adam(amsgrad=True)),
    ("optimizer", fa.optimizers.RMSprop(centered=True)),
    ("optimizer", fa.optimizers.RMSprop(momentum=0.5)),
    ("optimizer", fa.optimizers.SGD(momentum=0.9, nesterov=True, learning_rate=0.1))])
def test_features_follow_the_options(option, value):
    """LEAN for the classic options, EVERY_FEATURE as soon as one is outside them; an
    inference loop never compiles a rule, whatever the optimizer."""
    options = dict(CLASSIC, **({option: value} if option else {}))
    model = fa.Model([fa.Dense(3, activation=options["activation"]),
                      fa.Dense(1, activation="sigmoid")], input_dim=2, seed=0)
    model.compile(loss=options["loss"], optimizer=options["optimizer"])
    classic = option is None or isinstance(value, fa.optimizers.SGD) and not value.clipvalue
    expected = train_kernels.LEAN if classic else train_kernels.EVERY_FEATURE
    assert features_of(model) == expected
    inference = features_of(model, update=False)
    assert inference.other_rules is None
    assert inference.clipping is None and inference.weight_decay is None
    # the optimizer's options do not reach inference: it stays lean
    lean_inference = option in (None, "optimizer")
    assert inference.smooth_activations == (None if lean_inference else True)
    assert inference.losses == (train_kernels.LEAN if lean_inference
                                else train_kernels.EVERY_FEATURE).losses
