"""The tutorials' examples (``examples/*.py``) as tests, with the results the tutorials
report, in float64 and in float32 (which must reach the same predictions and stay
float32 end to end)."""
import numpy as np
import pytest
from cases import load_example as load

DTYPES = ["float64", "float32"]


def assert_float32_end_to_end(model, X):
    assert model.dtype == np.float32
    assert model.params.dtype == np.float32
    assert all(array.dtype == np.float32 for array in model.get_weights())
    assert model.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize("name", ["and_gate", "perceptron", "neuron", "xor"])
def test_examples_import_without_side_effects(name, capsys):
    load(name)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("dtype", DTYPES)
def test_and_gate(dtype, capsys):
    example = load("and_gate")
    model, history = example.main(dtype=dtype)
    out = capsys.readouterr().out
    assert "Predictions: [0 0 0 1]" in out and "epochs/s" in out

    np.testing.assert_array_equal(model.predict_classes(example.X), [0, 0, 0, 1])
    losses = history.history["loss"]
    assert len(losses) == example.EPOCHS == model.epochs_trained
    # the README's number: the loss ends near 0.0006, from log(2) at the start
    assert losses[0] == pytest.approx(np.log(2), abs=1e-3)
    assert losses[-1] == pytest.approx(6.07e-4, rel=0.01)
    assert history.history["accuracy"][-1] == 1.0
    if dtype == "float32":
        assert_float32_end_to_end(model, example.X)


def test_and_gate_float32_follows_float64():
    example = load("and_gate")
    model64, history64 = example.main("float64", quiet=True)
    model32, history32 = example.main("float32", quiet=True)
    np.testing.assert_array_equal(model32.predict_classes(example.X), model64.predict_classes(example.X))
    np.testing.assert_allclose(model32.predict_proba(example.X),
                               model64.predict_proba(example.X), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(history32.history["loss"], history64.history["loss"],
                               rtol=1e-2)
    for w32, w64 in zip(model32.get_weights(), model64.get_weights()):
        np.testing.assert_allclose(w32, w64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_perceptron(dtype, capsys):
    example = load("perceptron")
    model, history = example.main(dtype=dtype)
    out = capsys.readouterr().out
    assert "[1, 0, 0] -> " in out and "classified as 0" in out
    assert "[0, 1, 0] -> " in out and "classified as 1" in out

    np.testing.assert_array_equal(model.predict_classes(example.QUERIES), [0, 1])
    probabilities = model.predict_proba(example.QUERIES)[:, 0]
    assert probabilities[0] < 0.2 and probabilities[1] > 0.8
    # linearly separable: every training row is classified right
    np.testing.assert_array_equal(model.predict_classes(example.X), example.y)
    losses = history.history["loss"]
    assert len(losses) == example.EPOCHS
    assert losses[-1] < 0.02 < 0.1 < losses[0]
    if dtype == "float32":
        assert_float32_end_to_end(model, example.X)
        model64, _ = example.main("float64", quiet=True)
        np.testing.assert_allclose(probabilities, model64.predict_proba(example.QUERIES)[:, 0],
                                   rtol=1e-3)


def by_hand(activation, z):
    """The tutorial's activation functions."""
    if activation == "step":
        return np.where(z <= 0, 0.0, 1.0)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if activation == "tanh":
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    return np.maximum(z, 0.0)


def test_neuron_is_the_tutorials(capsys):
    example = load("neuron")
    W, b, x = example.tutorial_neuron()
    # the values the tutorial prints
    np.testing.assert_allclose(W, [0.37454012, 0.95071431, 0.73199394, 0.59865848], atol=1e-8)
    np.testing.assert_allclose(b, [0.15601864], atol=1e-8)
    outputs = example.main()
    out = capsys.readouterr().out
    assert "random bias = [0.15601864]" in out
    assert set(outputs) == {"step", "sigmoid", "tanh", "relu"}
    z = x @ W + b  # (1,)
    for activation, output in outputs.items():
        assert output.shape == (1, 1)
        np.testing.assert_allclose(output[:, 0], by_hand(activation, z), rtol=1e-12)
        assert f"output value for given `x` : {output[:, 0]}" in out  # printed
    assert outputs["step"][0, 0] == 1.0  # z > 0 for these all-positive draws


@pytest.mark.parametrize("dtype", DTYPES)
def test_neuron_on_both_sides_of_zero(dtype):
    example = load("neuron")
    W, b, _ = example.tutorial_neuron()
    random = np.random.default_rng(1)
    x = np.vstack([random.uniform(-2, 2, (40, 4)), -np.ones((1, 4)), np.ones((1, 4))])
    z = x @ W + b
    assert (z < 0).any() and (z > 0).any()
    outputs = example.main(x=x, dtype=dtype, quiet=True)
    for activation, output in outputs.items():
        assert output.dtype == np.dtype(dtype) and output.shape == (len(x), 1)
        expected = by_hand(activation, z)
        if dtype == "float64":
            np.testing.assert_allclose(output[:, 0], expected, rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_allclose(output[:, 0], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(outputs["step"][:, 0], (z > 0).astype(float))


def test_step_neuron_at_exactly_zero_outputs_zero():
    example = load("neuron")
    model = example.neuron("step", np.zeros(4), np.zeros(1))
    values = model.predict_proba(np.ones((1, 4)))
    assert values[0, 0] == 0.0  # the tutorial's step: 0 if z <= 0
    assert example.neuron("sigmoid", np.zeros(4), np.zeros(1)).predict_proba(
        np.ones((1, 4)))[0, 0] == 0.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_xor_needs_a_hidden_layer(dtype, capsys):
    example = load("xor")
    models = example.main(dtype=dtype)
    out = capsys.readouterr().out
    assert "predictions [0 1 1 0]" in out
    hidden, linear = models["hidden"], models["linear"]
    np.testing.assert_array_equal(hidden.predict_classes(example.X), example.y)
    assert hidden.evaluate(example.X, example.y, verbose=0, return_dict=True)["accuracy"] == 1.0
    assert hidden.evaluate(example.X, example.y, verbose=0, return_dict=True)["loss"] < 0.01
    # no hidden layer: one line cannot split XOR, whatever the weights
    assert (linear.predict_classes(example.X) != example.y).sum() >= 1
    assert linear.evaluate(example.X, example.y, verbose=0, return_dict=True)["accuracy"] <= 0.75
    assert linear.evaluate(example.X, example.y, verbose=0, return_dict=True)["loss"] > 0.4
    assert len(linear.get_weights()) == 2 and len(hidden.get_weights()) == 4
    if dtype == "float32":
        assert_float32_end_to_end(hidden, example.X)


def test_xor_without_a_hidden_layer_fails_for_every_linear_model():
    """Not a training accident: no logistic-regression weights get all four rows right."""
    example = load("xor")
    model = example.build(0)
    random = np.random.default_rng(2)
    for _ in range(200):
        model.set_weights([random.normal(0, 5, (2, 1)), random.normal(0, 5, 1)])
        assert (model.predict_classes(example.X) == example.y).sum() <= 3
