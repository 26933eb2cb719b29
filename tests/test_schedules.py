"""Learning-rate schedules and optimizer configs: the documented rate of every epoch,
checked arguments, configs that round-trip through JSON and rebuild only from fastann's
tables, and training with a schedule against ``reference.train``'s ``lr_by_epoch``
(float64, 1e-10), continued across ``fit`` calls from the absolute epoch.
"""
import json
import math

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


def test_exponential_decay_continuous_and_staircase():
    smooth = schedules.ExponentialDecay(0.2, decay_rate=0.5, decay_epochs=4)
    expected = [0.2 * 0.5 ** (e / 4) for e in range(9)]
    np.testing.assert_allclose(smooth.rates(0, 9), expected, rtol=1e-14)
    assert smooth(4) == pytest.approx(0.1, rel=1e-15)
    stairs = schedules.ExponentialDecay(0.2, decay_rate=0.5, decay_epochs=4, staircase=True)
    np.testing.assert_allclose(stairs.rates(0, 9), [0.2] * 4 + [0.1] * 4 + [0.05],
                               rtol=1e-15)


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
    np.testing.assert_allclose(rates[10:], 0.02, rtol=1e-14)  # alpha * initial_lr, then flat
    assert np.all(np.diff(rates[:11]) < 0)


@pytest.mark.parametrize("build, match", [
    (lambda: schedules.StepDecay(0, 0.5, 2), "initial_lr"),
    (lambda: schedules.StepDecay(0.1, 1.5, 2), "drop"),
    (lambda: schedules.StepDecay(0.1, 0.5, 0), "epochs_per_drop"),
    (lambda: schedules.StepDecay(0.1, 0.5, 2.5), "epochs_per_drop"),
    (lambda: schedules.ExponentialDecay(0.1, -0.5, 2), "decay_rate"),
    (lambda: schedules.ExponentialDecay(0.1, 0.5, 0), "decay_epochs"),
    (lambda: schedules.ExponentialDecay(float("nan"), 0.5, 2), "initial_lr"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=2), "alpha"),
])
def test_bad_schedule_arguments_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_staircase_must_be_a_bool():
    with pytest.raises(TypeError, match="staircase"):
        schedules.ExponentialDecay(0.1, 0.5, 2, staircase="yes")


# --------------------------------------------------------------------- configs
ALL_SCHEDULES = [
    schedules.StepDecay(0.1, 0.5, 3),
    schedules.ExponentialDecay(0.01, 0.96, 2.5, staircase=True),
    schedules.InverseTimeDecay(0.5, 0.1, 4),
    schedules.CosineDecay(0.3, 20, alpha=0.1),
]


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=lambda s: s.name)
def test_schedule_config_round_trips_through_json(schedule):
    config = schedule.get_config()
    assert config["name"] in schedules.SCHEDULES
    rebuilt = schedules.from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(schedule) and rebuilt.get_config() == config
    np.testing.assert_array_equal(rebuilt.rates(0, 50), schedule.rates(0, 50))


@pytest.mark.parametrize("config, error, match", [
    ({"name": "os.system", "initial_lr": 0.1}, ValueError, "unknown learning-rate schedule"),
    ({"initial_lr": 0.1}, TypeError, "must be a name"),
    ({"name": "step_decay", "initial_lr": 0.1, "drop": 0.5}, ValueError, "epochs_per_drop"),
    ({"name": "step_decay", "initial_lr": 0.1, "drop": 0.5, "epochs_per_drop": 2,
      "__class__": "x"}, ValueError, "unknown keys"),
    ({"name": "step_decay", "initial_lr": "0.1", "drop": 0.5, "epochs_per_drop": 2},
     ValueError, "initial_lr"),
    (["step_decay"], TypeError, "dict"),
])
def test_schedule_from_config_rejects_bad_data(config, error, match):
    with pytest.raises(error, match=match):
        schedules.from_config(config)


def test_optimizer_defaults_follow_keras():
    assert fa.SGD().get_config() == {"name": "sgd", "lr": 0.01, "momentum": 0.0,
                                     "nesterov": False, "weight_decay": 0.0}
    assert fa.Adam().get_config() == {"name": "adam", "lr": 0.001, "beta_1": 0.9,
                                      "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.0}
    assert fa.RMSprop().get_config() == {"name": "rmsprop", "lr": 0.001, "rho": 0.9,
                                         "epsilon": 1e-7, "weight_decay": 0.0}
    assert fa.Adam(learning_rate=0.5).lr == 0.5  # Keras' spelling


@pytest.mark.parametrize("optimizer", [
    fa.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    fa.Adam(lr=schedules.ExponentialDecay(0.01, 0.5, 10), beta_1=0.8),
    fa.RMSprop(lr=schedules.StepDecay(0.002, 0.1, 5), rho=0.7, epsilon=1e-6),
], ids=["sgd", "adam-schedule", "rmsprop-schedule"])
def test_optimizer_config_round_trips_through_json(optimizer):
    config = optimizer.get_config()
    text = json.dumps(config, allow_nan=False)
    rebuilt = optimizers.from_config(json.loads(text))
    assert type(rebuilt) is type(optimizer)
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(rebuilt.hyper(np.float64), optimizer.hyper(np.float64))
    np.testing.assert_array_equal(rebuilt.learning_rates(3, 20), optimizer.learning_rates(3, 20))


@pytest.mark.parametrize("config, error, match", [
    ({"name": "lion"}, ValueError, "unknown optimizer 'lion'"),
    ({"name": "adam", "lr": -1.0}, ValueError, "lr"),
    ({"name": "adam", "amsgrad": True}, ValueError, "unknown keys"),
    ({"name": "sgd", "nesterov": "false"}, TypeError, "nesterov"),
    ({"name": "sgd", "momentum": 1.0}, ValueError, "momentum"),
    ({"name": "sgd", "lr": {"name": "numpy.exp"}}, ValueError, "unknown learning-rate"),
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


@pytest.mark.parametrize("make_optimizer, make_reference", [
    (lambda s: fa.SGD(lr=s, momentum=0.9), lambda: reference.SGD(momentum=0.9)),
    (lambda s: fa.Adam(lr=s), lambda: reference.Adam()),
], ids=["sgd-momentum", "adam"])
@pytest.mark.parametrize("schedule", [
    schedules.StepDecay(0.05, 0.5, 40),
    schedules.ExponentialDecay(0.05, 0.3, 100),
    schedules.CosineDecay(0.05, 150, alpha=0.1),
], ids=lambda s: s.name)
def test_training_with_a_schedule_matches_the_reference(schedule, make_optimizer,
                                                        make_reference, build_model):
    """300 epochs, History only, so fit runs them in several multi-epoch kernel calls, each
    starting the schedule at its absolute epoch."""
    X, y = _problem()
    activations = ["tanh", "sigmoid"]
    model = build_model((3, 5, 1), activations, "binary_crossentropy",
                        optimizer=make_optimizer(schedule), seed=4)
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    history = model.fit(X, y, epochs=300, batch_size=10, verbose=0)
    trained, expected = reference.train(
        initial, activations, X, y, "binary_crossentropy", make_reference(), 300,
        batch_size=10, shuffle=True, rng_state=rng_state,
        lr_by_epoch=[schedule(e) for e in range(300)])
    np.testing.assert_allclose(history.history["loss"], expected["loss"], rtol=RTOL, atol=ATOL)
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)
    # the schedule mattered: the constant initial rate trains differently
    constant, _ = reference.train(initial, activations, X, y, "binary_crossentropy",
                                  make_reference(), 300, batch_size=10, shuffle=True,
                                  rng_state=rng_state,
                                  lr_by_epoch=[schedule(0)] * 300)
    assert not np.allclose(constant[0], trained[0], rtol=1e-6)



def test_schedule_continues_across_fit_calls(build_model, kernel_calls):
    X, y = _problem(1)
    schedule = schedules.ExponentialDecay(0.2, 0.5, 3)
    model = build_model((3, 4, 1), ["relu", "sigmoid"], "binary_crossentropy",
                        optimizer=fa.SGD(lr=schedule), seed=2)
    initial = model.get_weights()
    model.fit(X, y, epochs=7, batch_size="full", verbose=0)
    first_calls = len(kernel_calls)
    model.fit(X, y, epochs=13, batch_size="full", verbose=0)
    # the second fit's first kernel call starts at epoch 7 of the schedule
    assert kernel_calls[first_calls][0] == pytest.approx(schedule(7), rel=1e-15)
    np.testing.assert_allclose(np.concatenate(kernel_calls), schedule.rates(0, 20), rtol=1e-15)
    trained, _ = reference.train(initial, ["relu", "sigmoid"], X, y, "binary_crossentropy",
                                 reference.SGD(), 20, lr_by_epoch=schedule.rates(0, 20))
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)


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
    np.testing.assert_array_equal(optimizer.learning_rates(10, 3), [0.3] * 3)
    optimizer.lr = 0.03
    assert optimizer.get_config()["lr"] == 0.03
    with pytest.raises(ValueError, match="lr"):
        optimizer.lr = math.inf
