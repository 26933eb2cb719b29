"""The optimizers' and schedules' Keras 3 surface, against real Keras 3 (JAX backend):
constructor signatures (positional order and defaults, via ``inspect.signature``), config
keys and values, configs read both ways, schedule values at many steps (1e-7), and
``iterations``, ``learning_rate.assign``, ``get``/``serialize``/``deserialize``, the
options fastann refuses with NotSupportedError, and a learning rate of 0."""
import copy
import inspect
import json
import os
import pickle

import numpy as np
import pytest

import fastann as fa
from fastann import optimizers, schedules

NAMES = ["SGD", "RMSprop", "Adam", "AdamW", "Nadam", "Adamax", "Adagrad"]
SCHEDULE_CASES = {
    "exponential": ("ExponentialDecay", (0.1, 1000, 0.96), {}),
    "exponential-staircase": ("ExponentialDecay", (0.1, 7, 0.5), dict(staircase=True)),
    "inverse-time": ("InverseTimeDecay", (0.5, 10, 0.3), {}),
    "inverse-time-staircase": ("InverseTimeDecay", (0.5, 10, 0.3), dict(staircase=True)),
    "polynomial": ("PolynomialDecay", (0.1, 50), {}),
    "polynomial-cycle": ("PolynomialDecay", (0.1, 50),
                         dict(end_learning_rate=0.01, power=2.0, cycle=True)),
    "cosine": ("CosineDecay", (0.1, 100), dict(alpha=0.1)),
    "cosine-warmup": ("CosineDecay", (0.01, 100),
                      dict(alpha=0.1, warmup_target=0.1, warmup_steps=20)),
    "restarts": ("CosineDecayRestarts", (0.1, 20), {}),
    "restarts-constant-period": ("CosineDecayRestarts", (0.1, 20),
                                 dict(t_mul=1.0, m_mul=0.5, alpha=0.05)),
    "restarts-growing": ("CosineDecayRestarts", (0.1, 13), dict(t_mul=1.5, m_mul=0.8,
                                                                alpha=0.05)),
    "piecewise": ("PiecewiseConstantDecay", ([10, 30], [0.1, 0.05, 0.01]), {}),
}
STEPS = [0, 1, 5, 9, 10, 11, 19, 20, 21, 29, 30, 31, 50, 99, 100, 101, 119, 120, 150, 333,
         1000, 2500]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def positional(cls):
    """[(name, default)] of the arguments that can be given by position."""
    return [(name, parameter.default)
            for name, parameter in inspect.signature(cls).parameters.items()
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD]


# ------------------------------------------------------------- signatures
@pytest.mark.parametrize("name", NAMES)
def test_constructor_signature_is_keras(name, keras):
    """The same arguments in the same positional order with the same defaults (Keras'
    ``**kwargs`` aside; fastann adds only the keyword-only ``lr``)."""
    assert positional(getattr(fa.optimizers, name)) == positional(
        getattr(keras.optimizers, name))
    extra = [p.name for p in inspect.signature(getattr(fa.optimizers, name)).parameters.values()
             if p.kind is p.KEYWORD_ONLY]
    assert extra == ["lr"]


@pytest.mark.parametrize("name", sorted({case[0] for case in SCHEDULE_CASES.values()}))
def test_schedule_signature_is_keras(name, keras):
    ours = [(n, d) for n, d in positional(getattr(schedules, name))]
    theirs = positional(getattr(keras.optimizers.schedules, name))
    assert [n for n, _ in ours] == [n for n, _ in theirs]
    # where Keras has a default fastann has the same; Keras' required decay_steps
    # defaults to None in fastann only so that decay_epochs= may stand for it
    for (_, default), (_, keras_default) in zip(ours, theirs):
        if keras_default is not inspect.Parameter.empty:
            assert default == keras_default


def test_rmsprop_positional_epsilon_is_not_momentum():
    """The audit's case: RMSprop(0.001, 0.9, 0.0) is learning_rate, rho, momentum."""
    rule = fa.RMSprop(0.001, 0.9, 0.0)
    assert (rule.rho, rule.momentum, rule.epsilon) == (0.9, 0.0, 1e-7)
    assert fa.RMSprop(0.01, 0.8, 0.0, 1e-5).epsilon == 1e-5
    assert fa.optimizers.AdamW(0.01, 0.1).weight_decay == 0.1
    assert fa.Adam(0.01, 0.8, 0.99, 1e-6).get_config()["epsilon"] == 1e-6


# ----------------------------------------------------------------- configs
def keras_config_like_ours(keras, name, **arguments):
    """Keras' config of ``name(**arguments)``, its float32-rounded learning rate restored
    and its auto-numbered name dropped."""
    config = getattr(keras.optimizers, name)(**arguments).get_config()
    config.pop("name")
    if isinstance(config["learning_rate"], float):
        config["learning_rate"] = float(np.float32(config["learning_rate"]))
    return config


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("arguments", [{}, dict(learning_rate=0.05, weight_decay=0.01,
                                                clipnorm=0.5)], ids=["defaults", "options"])
def test_config_is_keras(name, arguments, keras):
    ours = getattr(fa.optimizers, name)(**arguments).get_config()
    assert ours.pop("name") == getattr(fa.optimizers, name).name
    ours["learning_rate"] = float(np.float32(ours["learning_rate"]))
    assert ours == keras_config_like_ours(keras, name, **arguments)
    assert list(ours) == list(keras_config_like_ours(keras, name, **arguments))  # key order


@pytest.mark.parametrize("name", NAMES)
def test_configs_read_both_ways(name, keras):
    """Keras' config rebuilds the same fastann optimizer, and fastann's the same Keras
    one (a schedule, serialized, included)."""
    arguments = dict(learning_rate=0.25, clipvalue=0.5)
    theirs = getattr(keras.optimizers, name)(**arguments)
    ours = getattr(fa.optimizers, name).from_config(theirs.get_config())
    assert ours.get_config() == {**fa.optimizers.get(name.lower()).get_config(),
                                 **arguments, "name": theirs.name,
                                 "weight_decay": theirs.get_config()["weight_decay"]}
    assert type(optimizers.from_config(theirs.get_config())) is type(ours)  # "adam_w" ...
    assert type(optimizers.deserialize(keras.optimizers.serialize(theirs))) is type(ours)
    schedule = schedules.ExponentialDecay(0.1, 100, 0.5, staircase=True)
    config = getattr(fa.optimizers, name)(learning_rate=schedule, clipnorm=1.0).get_config()
    again = getattr(keras.optimizers, name).from_config(json.loads(json.dumps(config)))
    assert again.get_config()["learning_rate"] == keras.optimizers.schedules.serialize(
        keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.5, staircase=True))
    assert again.clipnorm == 1.0


def test_get_serialize_deserialize_like_keras(keras):
    for name in ("adam", "Adam", "rmsprop", "RMSprop", "sgd", "adamw", "nadam"):
        assert type(optimizers.get(name)).__name__ == type(keras.optimizers.get(name)).__name__
    rule = fa.optimizers.Nadam(learning_rate=0.02, weight_decay=0.1, name="mine")
    serialized = optimizers.serialize(rule)
    assert set(serialized) == set(keras.optimizers.serialize(keras.optimizers.Nadam()))
    assert serialized["class_name"] == "Nadam"
    assert optimizers.deserialize(json.loads(json.dumps(serialized))).get_config() == \
        rule.get_config()
    assert optimizers.get(serialized).name == "mine"
    theirs = keras.optimizers.deserialize(json.loads(json.dumps(serialized)))
    assert theirs.name == "mine" and theirs.get_config()["weight_decay"] == 0.1
    assert optimizers.get(rule) is rule
    with pytest.raises(fa.NotSupportedError, match="custom_objects"):
        optimizers.deserialize(serialized, custom_objects={"Nadam": object})
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        optimizers.get("lion")


def test_a_named_optimizer_saves_and_loads(tmp_path, build_model):
    """A name that does not tell the class is saved in serialize()'s form."""
    model = build_model((2, 1), ["linear"], "mse", optimizer=fa.Adam(0.01, name="tuned"))
    model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0)
    loaded = fa.load_model(model.save(tmp_path / "named.npz"))
    assert isinstance(loaded.optimizer, fa.Adam) and loaded.optimizer.name == "tuned"
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == 2
    impostor = fa.Adam(name="sgd")  # a name of another class: saved with its class too
    assert optimizers.from_config(optimizers.saved_config(impostor)).get_config() == \
        impostor.get_config()
    with pytest.raises(ValueError, match="unknown optimizer 'tuned'"):
        optimizers.from_config(model.optimizer.get_config())  # tell the class, then
    assert fa.Adam.from_config(model.optimizer.get_config()).name == "tuned"


# --------------------------------------------------------------- schedules
@pytest.mark.parametrize("case", SCHEDULE_CASES.values(), ids=SCHEDULE_CASES.keys())
def test_schedule_matches_keras(case, keras):
    name, arguments, options = case
    theirs = getattr(keras.optimizers.schedules, name)(*arguments, **options)
    ours = getattr(schedules, name)(*arguments, **options)
    expected = np.array([float(theirs(step)) for step in STEPS])
    np.testing.assert_allclose(ours.values_at(STEPS), expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose([ours(step) for step in STEPS], expected, rtol=0, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    serialized = keras.optimizers.schedules.serialize(theirs)
    assert schedules.serialize(ours) == serialized
    assert schedules.deserialize(serialized).get_config() == ours.get_config()
    assert keras.optimizers.schedules.deserialize(
        schedules.serialize(ours)).get_config() == theirs.get_config()


def test_keras_schedules_names_exist_in_fastann(keras):
    exported = {name for name in dir(keras.optimizers.schedules) if not name.startswith("_")}
    assert exported <= set(dir(schedules))
    assert fa.optimizers.schedules is schedules


# ------------------------------------------------ iterations, learning_rate
def test_iterations_count_the_model_steps(build_model, tmp_path):
    rule = fa.Adam(0.01)
    assert rule.iterations == 0 and rule.iterations.numpy() == 0
    model = build_model((2, 1), ["linear"], "mse", optimizer=rule)
    model.fit(np.ones((10, 2)), np.ones(10), epochs=3, batch_size=4, verbose=0)
    assert rule.iterations == 9 and int(rule.iterations) == 9
    with pytest.raises(AttributeError):
        rule.iterations = 0
    assert fa.load_model(model.save(tmp_path / "model.npz")).optimizer.iterations == 9
    copied = copy.deepcopy(model)
    copied.fit(np.ones((10, 2)), np.ones(10), epochs=1, batch_size=4, verbose=0)
    assert copied.optimizer.iterations == 12 and rule.iterations == 9  # each its own


def test_learning_rate_assign_and_set(keras):
    rule = fa.SGD(0.1)
    assert rule.learning_rate == 0.1 and rule.learning_rate.numpy() == 0.1
    rule.learning_rate.assign(0.2)
    assert rule.lr == 0.2 == rule.get_config()["learning_rate"]
    rule.learning_rate = 0.3
    assert rule.learning_rate == 0.3
    theirs = keras.optimizers.SGD(0.1)
    theirs.learning_rate.assign(0.2)
    theirs.learning_rate = 0.3
    assert float(theirs.learning_rate) == pytest.approx(float(rule.learning_rate))
    scheduled = fa.SGD(schedules.ExponentialDecay(0.1, 10, 0.5))
    assert scheduled.learning_rate == 0.1  # the rate at iterations 0, as Keras
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate.assign(0.2)
    assert pickle.loads(pickle.dumps(rule.learning_rate)) == 0.3


def test_a_learning_rate_of_zero_trains_nothing(build_model):
    """Keras accepts 0 (a frozen run); so does fastann, for every rule."""
    for name in NAMES:
        model = build_model((3, 2, 1), ["tanh", "linear"], "mse",
                            optimizer=getattr(fa.optimizers, name)(learning_rate=0.0))
        before = model.get_weights()
        history = model.fit(np.ones((6, 3)), np.zeros(6), epochs=2, batch_size=2, verbose=0)
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert history.history["loss"][0] == history.history["loss"][1]
    assert fa.SGD(learning_rate=schedules.ExponentialDecay(0.0, 10, 0.5)).learning_rate == 0


# ------------------------------------------------------- refused options
REFUSED = [
    ("SGD", "use_ema", True), ("Nadam", "ema_momentum", 0.5),
    ("Adagrad", "ema_overwrite_frequency", 10), ("Adamax", "loss_scale_factor", 128.0),
    ("Adam", "gradient_accumulation_steps", 4),
]


@pytest.mark.parametrize("name, argument, value", REFUSED)
def test_options_without_a_kernel_are_refused_by_name(name, argument, value):
    cls = getattr(fa.optimizers, name)
    with pytest.raises(fa.NotSupportedError, match=rf"{name}\({argument}={value!r}\).*"
                                                    rf"default {argument}="):
        cls(**{argument: value})
    default = inspect.signature(cls).parameters[argument].default
    assert getattr(cls(**{argument: default}), argument) == default  # Keras' default: fine
    config = cls().get_config()
    with pytest.raises(fa.NotSupportedError, match=argument):
        optimizers.from_config({**config, argument: value})


@pytest.mark.parametrize("make, error, match", [
    (lambda: fa.SGD(0.1, lr=0.2), ValueError, "learning_rate or its old spelling lr"),
    (lambda: fa.SGD(learning_rate=-0.1), ValueError,
     "SGD learning_rate must be a finite number >= 0; got -0.1"),
    (lambda: fa.Adam(lr=float("nan")), ValueError, "Adam lr must be a finite number >= 0"),
    (lambda: fa.Adam(name=3), TypeError, "name must be a str"),
    (lambda: fa.SGD(nesterov=1), TypeError, "SGD nesterov must be True or False"),
    (lambda: fa.SGD(decay=0.1), TypeError, "decay"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_train_on_batch_follows_a_step_schedule(build_model):
    """One step a call: the schedule's rate at ``iterations``, exactly."""
    if not hasattr(fa.Model, "train_on_batch"):
        pytest.skip("this fastann has no train_on_batch")
    rule = fa.SGD(learning_rate=schedules.ExponentialDecay(0.1, 1, 0.5))
    model = build_model((2, 1), ["linear"], "mse", optimizer=rule)
    for _ in range(3):
        model.train_on_batch(np.ones((4, 2)), np.ones(4))
    assert rule.iterations == 3 and rule.learning_rate == pytest.approx(0.1 * 0.5 ** 3)


def test_copies_hand_the_kernels_a_writable_hyper_vector(tmp_path):
    """Pickles, copies and a memory-mapped copy (joblib's mmap_mode, as a loaded
    scikit-learn estimator) give the kernels a fresh, writable vector: a read-only one
    would make Numba compile the training kernel again, for that array type."""
    joblib = pytest.importorskip("joblib")
    optimizer = fa.SGD(lr=0.1, momentum=0.9, nesterov=True)
    optimizer.hyper(np.float64)
    joblib.dump(optimizer, tmp_path / "optimizer.joblib")
    for twin in (copy.copy(optimizer), copy.deepcopy(optimizer),
                 pickle.loads(pickle.dumps(optimizer)),
                 joblib.load(tmp_path / "optimizer.joblib", mmap_mode="r")):
        again = twin.hyper(np.float64)
        assert type(again) is np.ndarray and again.flags.writeable
        np.testing.assert_array_equal(again, optimizer.hyper(np.float64))
