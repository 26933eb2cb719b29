"""Learning-rate schedules and optimizer configs: the documented rate of every epoch or
step, checked arguments, configs that round-trip through JSON and rebuild only from
fastann's tables (earlier fastann configs included), and training with a schedule
against ``reference.train``'s ``lr_by_epoch`` (float64, 1e-10): per-epoch schedules at
the absolute epoch, Keras' step schedules at each epoch's first step, continued across
``fit`` calls. (Keras' own schedules are compared in test_optimizers_config.py.)
"""
import json
import math
import warnings

import numpy as np
import pytest

import fastann as fa
from fastann import optimizers, reference, schedules

RTOL = 1e-10
ATOL = 1e-13


# ------------------------------------------------------------ rates per epoch
def test_step_decay_drops_every_epochs_per_drop():
    schedule = schedules.StepDecay(0.1, drop=0.5, epochs_per_drop=3)
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    np.testing.assert_allclose(schedule.rates(0, 10), expected, rtol=1e-15)
    assert [schedule(e) for e in range(10)] == pytest.approx(expected, rel=1e-15)
    # any window of epochs gives the same rates as the whole sequence
    np.testing.assert_allclose(schedule.rates(4, 5), expected[4:9], rtol=1e-15)
    assert schedule.per_epoch


def test_exponential_decay_continuous_and_staircase():
    """decay_epochs=, fastann's earlier spelling, is decay_steps counted in epochs."""
    smooth = schedules.ExponentialDecay(0.2, decay_rate=0.5, decay_epochs=4)
    assert smooth.per_epoch and smooth.decay_steps == 4
    expected = [0.2 * 0.5 ** (e / 4) for e in range(9)]
    np.testing.assert_allclose(smooth.rates(0, 9), expected, rtol=1e-14)
    assert smooth(4) == pytest.approx(0.1, rel=1e-15)
    stairs = schedules.ExponentialDecay(0.2, 4, 0.5, staircase=True, per_epoch=True)
    np.testing.assert_allclose(stairs.rates(0, 9), [0.2] * 4 + [0.1] * 4 + [0.05],
                               rtol=1e-15)


def test_keras_positional_order_is_initial_decay_steps_decay_rate():
    """The audit's case: (0.1, 1000, 0.96) is decay_steps=1000, decay_rate=0.96, per step."""
    schedule = schedules.ExponentialDecay(0.1, 1000, 0.96)
    assert (schedule.decay_steps, schedule.decay_rate, schedule.per_epoch) == (1000, 0.96, False)
    assert schedule(0) == 0.1 and schedule(1000) == pytest.approx(0.096, rel=1e-15)
    assert schedule(10**6) < 0.1
    inverse = schedules.InverseTimeDecay(1.0, 10, 0.5)
    assert inverse(20) == pytest.approx(0.5, rel=1e-15)


def test_inverse_time_and_cosine_decay():
    inverse = schedules.InverseTimeDecay(1.0, decay_rate=0.5, decay_epochs=2)
    np.testing.assert_allclose(inverse.rates(0, 5), [1 / (1 + 0.5 * e / 2) for e in range(5)],
                               rtol=1e-15)
    stairs = schedules.InverseTimeDecay(1.0, decay_rate=1.0, decay_epochs=2, staircase=True)
    np.testing.assert_allclose(stairs.rates(0, 5), [1, 1, 0.5, 0.5, 1 / 3], rtol=1e-15)
    cosine = schedules.CosineDecay(0.1, decay_epochs=10, alpha=0.2)
    rates = cosine.rates(0, 13)
    assert rates[0] == pytest.approx(0.1, rel=1e-15)
    assert rates[5] == pytest.approx(0.1 * (0.8 * 0.5 + 0.2), rel=1e-14)  # halfway
    np.testing.assert_allclose(rates[10:], 0.02, rtol=1e-14)  # alpha * initial, then flat
    assert np.all(np.diff(rates[:11]) < 0)


def test_piecewise_polynomial_warmup_and_restarts_by_hand():
    piecewise = schedules.PiecewiseConstantDecay([2, 5], [0.3, 0.2, 0.1])
    np.testing.assert_array_equal(piecewise.values_at(range(8)),
                                  [0.3, 0.3, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1])
    polynomial = schedules.PolynomialDecay(1.0, 4, end_learning_rate=0.2, power=2.0)
    np.testing.assert_allclose(polynomial.values_at([0, 2, 4, 9]),
                               [1.0, 0.8 * 0.25 + 0.2, 0.2, 0.2], rtol=1e-15)
    warm = schedules.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=5)
    np.testing.assert_allclose(warm.values_at([0, 1, 5, 10, 15, 99]),
                               [0, 0.02, 0.1, 0.05, 0, 0], atol=1e-16)
    restarts = schedules.CosineDecayRestarts(1.0, 4, t_mul=1.0, m_mul=0.5)
    np.testing.assert_allclose(restarts.values_at([0, 2, 4, 6, 8]),
                               [1.0, 0.5, 0.5, 0.25, 0.25], atol=1e-15)


@pytest.mark.parametrize("build, match", [
    (lambda: schedules.StepDecay(-1, 0.5, 2), "initial_learning_rate"),
    (lambda: schedules.StepDecay(0.1, 1.5, 2), "drop"),
    (lambda: schedules.StepDecay(0.1, 0.5, 0), "epochs_per_drop"),
    (lambda: schedules.StepDecay(0.1, 0.5, 2.5), "epochs_per_drop"),
    (lambda: schedules.ExponentialDecay(0.1, 10, -0.5), "decay_rate must be a finite number > 0"),
    (lambda: schedules.ExponentialDecay(0.1, 10, 0), "decay_rate"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
     "decay_steps must be a whole number of optimizer steps >= 1"),
    (lambda: schedules.ExponentialDecay(0.1, -3, 0.5), "decay_steps"),
    (lambda: schedules.ExponentialDecay(0.1, decay_rate=0.5, decay_epochs=0),
     "decay_steps must be a finite number >= 1"),
    (lambda: schedules.ExponentialDecay(0.1, decay_rate=0.5), "decay_steps .* got None"),
    (lambda: schedules.ExponentialDecay(0.1, 10), "decay_rate .* got None"),
    # fastann's earlier positional order (initial, decay_rate, decay_epochs) is caught
    (lambda: schedules.ExponentialDecay(0.1, 0.5, 10), "decay_steps must be a whole number"),
    (lambda: schedules.ExponentialDecay(0.1, 10, 0.5, decay_epochs=3), "not both"),
    (lambda: schedules.ExponentialDecay(float("nan"), 10, 0.5), "initial_learning_rate"),
    (lambda: schedules.InverseTimeDecay(0.1, 10, -1), "decay_rate must be a finite number >= 0"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=2), "alpha"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1),
     "warmup_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=-0.2), "warmup_target"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0), "t_mul"),
    (lambda: schedules.PolynomialDecay(0.1, 10, power=-1), "power"),
    (lambda: schedules.PolynomialDecay(0.1, 10, end_learning_rate=-1), "end_learning_rate"),
    (lambda: schedules.PiecewiseConstantDecay([5, 2], [0.3, 0.2, 0.1]), "increase strictly"),
    (lambda: schedules.PiecewiseConstantDecay([2], [0.3, 0.2, 0.1]),
     "boundaries should be 1 less than the length of values"),
    (lambda: schedules.PiecewiseConstantDecay([], [0.3]), "non-empty"),
    (lambda: schedules.PiecewiseConstantDecay([2], [0.3, -0.2]), "values"),
])
def test_bad_schedule_arguments_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_flags_and_names_must_have_their_types():
    with pytest.raises(TypeError, match="ExponentialDecay staircase must be True or False"):
        schedules.ExponentialDecay(0.1, 10, 0.5, staircase="yes")
    with pytest.raises(TypeError, match="PolynomialDecay cycle"):
        schedules.PolynomialDecay(0.1, 10, cycle=1)
    with pytest.raises(TypeError, match="per_epoch"):
        schedules.CosineDecay(0.1, 10, per_epoch="no")
    with pytest.raises(TypeError, match="name must be a str"):
        schedules.CosineDecay(0.1, 10, name=3)


# --------------------------------------------------------------------- configs
ALL_SCHEDULES = [
    schedules.StepDecay(0.1, 0.5, 3),
    schedules.ExponentialDecay(0.01, decay_rate=0.96, decay_epochs=2.5, staircase=True),
    schedules.ExponentialDecay(0.01, 100, 0.96, name="decay"),
    schedules.InverseTimeDecay(0.5, 4, 0.1),
    schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=0.5, cycle=True),
    schedules.CosineDecay(0.3, 20, alpha=0.1, per_epoch=True),
    schedules.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=5),
    schedules.CosineDecayRestarts(0.3, 7, t_mul=1.5, m_mul=0.9, alpha=0.05),
    schedules.PiecewiseConstantDecay([10, 20.5], [0.3, 0.2, 0.1], per_epoch=True),
]


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=repr)
def test_schedule_config_round_trips_through_json(schedule):
    config = schedule.get_config()
    for rebuilt in (schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule)))),
                    type(schedule).from_config(json.loads(json.dumps(config)))):
        assert type(rebuilt) is type(schedule) and rebuilt.get_config() == config
        assert rebuilt.per_epoch == schedule.per_epoch
        np.testing.assert_array_equal(rebuilt.values_at(range(60)), schedule.values_at(range(60)))
    if config["name"] != "decay":  # a default name tells the module-level from_config
        assert type(schedules.from_config(config)) is type(schedule)
    else:
        with pytest.raises(ValueError, match="unknown learning-rate schedule 'decay'"):
            schedules.from_config(config)


@pytest.mark.parametrize("config, expected", [
    ({"name": "step_decay", "initial_lr": 0.1, "drop": 0.5, "epochs_per_drop": 3},
     schedules.StepDecay(0.1, 0.5, 3)),
    ({"name": "exponential_decay", "initial_lr": 0.02, "decay_rate": 0.5,
      "decay_epochs": 3.0, "staircase": False},
     schedules.ExponentialDecay(0.02, 3, 0.5, per_epoch=True)),
    ({"name": "inverse_time_decay", "initial_lr": 0.5, "decay_rate": 0.1,
      "decay_epochs": 4, "staircase": True},
     schedules.InverseTimeDecay(0.5, 4, 0.1, staircase=True, per_epoch=True)),
    ({"name": "cosine_decay", "initial_lr": 0.3, "decay_epochs": 20, "alpha": 0.1},
     schedules.CosineDecay(0.3, 20, alpha=0.1, per_epoch=True)),
], ids=lambda item: item["name"] if isinstance(item, dict) else "")
def test_configs_of_earlier_fastann_keep_their_per_epoch_meaning(config, expected):
    """What files saved before Keras' spellings hold: the same rates, epoch by epoch."""
    rebuilt = schedules.from_config(config)
    assert rebuilt.get_config() == expected.get_config() and rebuilt.per_epoch
    np.testing.assert_array_equal(rebuilt.rates(0, 30), expected.rates(0, 30))


@pytest.mark.parametrize("config, error, match", [
    ({"name": "os.system", "initial_lr": 0.1}, ValueError, "unknown learning-rate schedule"),
    ({"initial_lr": 0.1}, TypeError, "must be a name"),
    ({"name": "step_decay", "initial_lr": 0.1, "drop": 0.5}, ValueError, "epochs_per_drop"),
    ({"name": "step_decay", "initial_lr": 0.1, "drop": 0.5, "epochs_per_drop": 2,
      "__class__": "x"}, ValueError, "unknown keys"),
    ({"name": "step_decay", "initial_lr": "0.1", "drop": 0.5, "epochs_per_drop": 2},
     ValueError, "initial_learning_rate"),
    ({"class_name": "numpy.exp", "config": {}}, ValueError, "unknown learning-rate schedule"),
    ({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
      "decay_steps": 10, "decay_rate": 0.5}, "extra": 1}, ValueError, "serialized schedule"),
    ({"class_name": "ExponentialDecay", "config": [1]}, ValueError, "serialized schedule"),
    (["step_decay"], TypeError, "dict"),
])
def test_schedule_from_config_rejects_bad_data(config, error, match):
    with pytest.raises(error, match=match):
        schedules.from_config(config)


def test_optimizer_defaults_follow_keras():
    common = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
              "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None,
              "gradient_accumulation_steps": None}
    assert fa.SGD().get_config() == {"name": "sgd", "learning_rate": 0.01, **common,
                                     "momentum": 0.0, "nesterov": False}
    assert fa.Adam().get_config() == {"name": "adam", "learning_rate": 0.001, **common,
                                      "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                                      "amsgrad": False}
    assert fa.RMSprop().get_config() == {"name": "rmsprop", "learning_rate": 0.001, **common,
                                         "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                                         "centered": False}
    assert fa.Adam(lr=0.5).learning_rate == 0.5  # fastann's earlier spelling


@pytest.mark.parametrize("optimizer", [
    fa.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    fa.Adam(learning_rate=schedules.ExponentialDecay(0.01, 10, 0.5), beta_1=0.8),
    fa.RMSprop(lr=schedules.StepDecay(0.002, 0.1, 5), rho=0.7, epsilon=1e-6),
], ids=["sgd", "adam-schedule", "rmsprop-schedule"])
def test_optimizer_config_round_trips_through_json(optimizer):
    config = optimizer.get_config()
    text = json.dumps(config, allow_nan=False)
    rebuilt = optimizers.from_config(json.loads(text))
    assert type(rebuilt) is type(optimizer)
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(rebuilt.hyper(np.float64), optimizer.hyper(np.float64))
    np.testing.assert_array_equal(rebuilt.learning_rates(3, 20, steps_per_epoch=4),
                                  optimizer.learning_rates(3, 20, steps_per_epoch=4))


def test_optimizer_configs_of_earlier_fastann_load():
    """Files saved before Keras' key names: "lr", a schedule config under it, 0.0 decay."""
    old = {"name": "adam", "lr": {"name": "exponential_decay", "initial_lr": 0.02,
                                  "decay_rate": 0.5, "decay_epochs": 3, "staircase": False},
           "beta_1": 0.8, "beta_2": 0.999, "epsilon": 1e-6, "weight_decay": 0.0,
           "clipnorm": 0.5}
    rebuilt = optimizers.from_config(old)
    assert isinstance(rebuilt, fa.Adam) and rebuilt.beta_1 == 0.8 and rebuilt.clipnorm == 0.5
    np.testing.assert_allclose(rebuilt.learning_rates(0, 7)[:, 0],
                               [0.02 * 0.5 ** (e / 3) for e in range(7)], rtol=1e-15)
    sgd = optimizers.from_config({"name": "sgd", "lr": 0.05, "momentum": 0.9,
                                  "nesterov": True, "weight_decay": 0.001})
    assert (sgd.lr, sgd.momentum, sgd.nesterov, sgd.weight_decay) == (0.05, 0.9, True, 0.001)


@pytest.mark.parametrize("config, error, match", [
    ({"name": "lion"}, ValueError, "unknown optimizer 'lion'"),
    ({"name": "adam", "lr": -1.0}, ValueError, "Adam lr must be a finite number >= 0"),
    ({"name": "adam", "learning_rate": 0.1, "lr": 0.2}, ValueError, "not both"),
    ({"name": "adam", "use_ema": True}, fa.NotSupportedError, "use_ema=True"),
    ({"name": "adam", "amsgrad": "yes"}, TypeError, "amsgrad must be True or False"),
    ({"name": "adam", "nesterov": False}, ValueError, "unknown keys"),
    ({"name": "sgd", "nesterov": "false"}, TypeError, "nesterov"),
    ({"name": "sgd", "momentum": 1.5}, ValueError, "momentum"),
    ({"name": "sgd", "learning_rate": {"name": "numpy.exp"}}, ValueError,
     "unknown learning-rate"),
    ({"name": "sgd", "lr": {"name": "numpy.exp"}}, ValueError, "unknown learning-rate"),
    ({"class_name": "os.system", "config": {}}, ValueError, "unknown optimizer"),
    ({"class_name": "Adam", "config": {}, "module": "keras.optimizers", "x": 1}, ValueError,
     "serialized optimizer"),
    ("sgd", TypeError, "dict"),
])
def test_optimizer_from_config_rejects_bad_data(config, error, match):
    with pytest.raises(error, match=match):
        optimizers.from_config(config)


def test_from_config_fills_defaults():
    assert optimizers.from_config({"name": "adam"}).get_config() == fa.Adam().get_config()


class Halving(schedules.LearningRateSchedule):
    """A custom schedule: trains, cannot be saved."""

    def __call__(self, epoch):
        return 0.1 / 2 ** epoch


def test_custom_schedule_trains_but_has_no_config(build_model, rng):
    X, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    model = build_model((2, 3, 1), ["tanh", "linear"], "mse", optimizer=fa.SGD(lr=Halving()))
    initial = model.get_weights()
    model.fit(X, y, epochs=5, batch_size="full", verbose=0)
    trained, _ = reference.train(initial, ["tanh", "linear"], X, y, "mean_squared_error",
                                 reference.SGD(), 5, lr_by_epoch=[0.1 / 2 ** e for e in range(5)])
    for actual, expected in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    with pytest.raises(NotImplementedError, match="custom schedule"):
        model.optimizer.get_config()


def test_schedule_giving_a_bad_rate_is_refused_before_training(build_model, rng):
    class Negative(schedules.LearningRateSchedule):
        def __call__(self, epoch):
            return -1.0

    model = build_model((2, 1), ["linear"], "mse", optimizer=fa.SGD(lr=Negative()))
    before = model.get_weights()
    with pytest.raises(ValueError, match="finite rate >= 0"):
        model.fit(rng.normal(size=(4, 2)), rng.normal(size=(4, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    assert model.epochs_trained == 0


# ------------------------------------------------------- training with schedules
def _problem(seed=0, n=24):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, 3))
    y = (X[:, :1] * X[:, 1:2] + 0.3 * X[:, 2:] > 0).astype(np.float64)
    return X, y


STEPS_PER_EPOCH = 3  # 24 rows in batches of 10


def kernel_rates(schedule, epochs, steps_per_epoch=STEPS_PER_EPOCH):
    """The rates fit trains ``epochs`` epochs at, from epoch and step 0: one per epoch
    (epochs,), or for a step schedule one per step (epochs, steps_per_epoch)."""
    if schedule.per_epoch:
        return schedule.values_at(np.arange(epochs))
    return schedule.values_at(np.arange(epochs * steps_per_epoch)).reshape(
        epochs, steps_per_epoch)


@pytest.mark.parametrize("make_optimizer, make_reference", [
    (lambda s: fa.SGD(lr=s, momentum=0.9), lambda: reference.SGD(momentum=0.9)),
    (lambda s: fa.Adam(learning_rate=s), lambda: reference.Adam()),
], ids=["sgd-momentum", "adam"])
@pytest.mark.parametrize("schedule", [
    schedules.StepDecay(0.05, 0.5, 40),
    schedules.ExponentialDecay(0.05, decay_rate=0.3, decay_epochs=100),
    schedules.CosineDecay(0.05, 150, alpha=0.1, per_epoch=True),
    schedules.ExponentialDecay(0.05, 300, 0.3, staircase=True),  # per step
    schedules.PiecewiseConstantDecay([149, 449], [0.05, 0.02, 0.01]),  # per step
    schedules.ExponentialDecay(0.05, 100, 0.5),  # per step, changing every step
    schedules.CosineDecay(0.05, 700, alpha=0.1, warmup_target=0.08, warmup_steps=40),
], ids=repr)
def test_training_with_a_schedule_matches_the_reference(schedule, make_optimizer,
                                                        make_reference, build_model):
    """300 epochs, History only, so fit runs them in several multi-epoch kernel calls, each
    starting the schedule at its absolute epoch, or for a step schedule at the step its
    first epoch starts from, with a rate for each of its steps."""
    X, y = _problem()
    activations = ["tanh", "sigmoid"]
    model = build_model((3, 5, 1), activations, "binary_crossentropy",
                        optimizer=make_optimizer(schedule), seed=4)
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(X, y, epochs=300, batch_size=10, verbose=0)
    rates = kernel_rates(schedule, 300)
    trained, expected = reference.train(
        initial, activations, X, y, "binary_crossentropy", make_reference(), 300,
        batch_size=10, shuffle=True, rng_state=rng_state, lr_by_epoch=rates)
    np.testing.assert_allclose(history.history["loss"], expected["loss"], rtol=RTOL, atol=ATOL)
    # the logged rate: the epoch's first step's
    np.testing.assert_array_equal(history.history["learning_rate"],
                                  rates if rates.ndim == 1 else rates[:, 0])
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)
    assert model.optimizer.iterations == 300 * STEPS_PER_EPOCH
    # the schedule mattered: the constant initial rate trains differently
    constant, _ = reference.train(initial, activations, X, y, "binary_crossentropy",
                                  make_reference(), 300, batch_size=10, shuffle=True,
                                  rng_state=rng_state, lr_by_epoch=[schedule(0)] * 300)
    assert not np.allclose(constant[0], trained[0], rtol=1e-6)


@pytest.mark.parametrize("schedule, batch_size", [
    (schedules.ExponentialDecay(0.2, 3, 0.5, per_epoch=True), "full"),
    (schedules.ExponentialDecay(0.2, 5, 0.5), 8),
], ids=["per-epoch", "per-step"])
def test_schedule_continues_across_fit_calls(schedule, batch_size, build_model,
                                             kernel_calls):
    X, y = _problem(1)
    model = build_model((3, 4, 1), ["relu", "sigmoid"], "binary_crossentropy",
                        optimizer=fa.SGD(lr=schedule), seed=2)
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    steps = 1 if batch_size == "full" else -(-X.shape[0] // batch_size)
    rates = kernel_rates(schedule, 20, steps)
    flat = rates.ravel()  # as kernel_calls records them
    model.fit(X, y, epochs=7, batch_size=batch_size, verbose=0)
    assert model.optimizer.iterations == 7 * steps
    assert model.optimizer.learning_rate == pytest.approx(flat[7 * rates[0].size],
                                                          rel=1e-15)
    first_calls = len(kernel_calls)
    model.fit(X, y, epochs=13, batch_size=batch_size, verbose=0)
    # the second fit's first kernel call starts where the first stopped
    assert kernel_calls[first_calls][0] == pytest.approx(flat[7 * rates[0].size], rel=1e-15)
    np.testing.assert_allclose(np.concatenate(kernel_calls), flat, rtol=1e-15)
    trained, _ = reference.train(initial, ["relu", "sigmoid"], X, y, "binary_crossentropy",
                                 reference.SGD(), 20,
                                 batch_size=None if batch_size == "full" else batch_size,
                                 shuffle=True, rng_state=rng_state, lr_by_epoch=rates)
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("make_schedule", [
    lambda module: module.CosineDecay(0.1, 30),
    lambda module: module.ExponentialDecay(0.2, 4, 0.5),
], ids=["cosine", "exponential"])
def test_a_step_schedule_changes_the_rate_every_step_as_keras(make_schedule, keras_x64):
    """Keras 3 (float64) fits the same network with the same schedule, three steps an
    epoch: the same weights after five epochs, with and without the batch hooks' path."""
    keras = keras_x64
    X, y = _problem(3)
    theirs = keras.Sequential([keras.Input((3,), dtype="float64"),
                               keras.layers.Dense(4, activation="tanh", dtype="float64"),
                               keras.layers.Dense(1, activation="sigmoid", dtype="float64")])
    theirs.compile(optimizer=keras.optimizers.SGD(make_schedule(keras.optimizers.schedules),
                                                           momentum=0.5),
                   loss="binary_crossentropy")
    weights = theirs.get_weights()
    theirs.fit(X, y, batch_size=10, epochs=5, shuffle=False, verbose=0)
    for callbacks in ([], [fa.callbacks.LambdaCallback(on_train_batch_end=lambda b, l: None)]):
        ours = fa.Sequential([fa.Input((3,)), fa.Dense(4, activation="tanh"),
                              fa.Dense(1, activation="sigmoid")], dtype="float64")
        ours.compile(optimizer=fa.SGD(make_schedule(schedules), momentum=0.5),
                     loss="binary_crossentropy")
        ours.set_weights(weights)
        ours.fit(X, y, batch_size=10, epochs=5, shuffle=False, verbose=0, callbacks=callbacks)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # Keras clips at 1e-7


def test_compile_restarts_a_step_schedule(build_model):
    """The step counter is the model's and compile resets it, as it resets the state."""
    X, y = _problem(4)
    schedule = schedules.ExponentialDecay(0.1, 2, 0.5)
    model = build_model((3, 1), ["sigmoid"], "binary_crossentropy",
                        optimizer=fa.SGD(learning_rate=schedule))
    model.fit(X, y, epochs=4, batch_size="full", verbose=0)
    assert model.optimizer.iterations == 4
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5 ** 2, rel=1e-15)
    model.compile(loss="binary_crossentropy", optimizer=model.optimizer)
    assert model.optimizer.iterations == 0 and model.optimizer.learning_rate == 0.1


def test_float32_model_gets_float32_rates(build_model, kernel_calls):
    X, y = _problem(2)
    model = build_model((3, 1), ["sigmoid"], "binary_crossentropy", dtype="float32",
                        optimizer=fa.SGD(lr=schedules.StepDecay(0.1, 0.5, 2)))
    model.fit(X, y, epochs=3, verbose=0)
    assert all(call.dtype == np.float32 for call in kernel_calls)
    np.testing.assert_allclose(np.concatenate(kernel_calls), [0.1, 0.1, 0.05], rtol=1e-7)


def test_constant_lr_is_a_plain_float():
    optimizer = fa.SGD(lr=0.3)
    assert optimizer.lr == 0.3 and not optimizer.scheduled
    np.testing.assert_array_equal(optimizer.learning_rates(10, 3), [[0.3]] * 3)
    optimizer.lr = 0.03
    assert optimizer.get_config()["learning_rate"] == 0.03
    with pytest.raises(ValueError, match="SGD lr must be a finite number >= 0; got inf"):
        optimizer.lr = math.inf
    with pytest.raises(ValueError, match="SGD learning_rate must be a finite number >= 0"):
        optimizer.learning_rate = -1.0


def test_a_step_schedule_needs_the_steps_per_epoch():
    optimizer = fa.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="steps_per_epoch"):
        optimizer.learning_rates(0, 3)
    rates = optimizer.learning_rates(0, 3, steps_per_epoch=5)
    np.testing.assert_allclose(rates, 0.1 * 0.5 ** (np.arange(15).reshape(3, 5) / 10),
                               rtol=1e-15)
