"""The model's Keras 3 surface beyond fit/evaluate/predict: batch-level calls, shapes,
layer lookup, History, compile's forms, save's options, checked against real Keras."""
import warnings

import numpy as np
import pytest

import fastann as fa

keras = pytest.importorskip("keras")


def assert_same_arrays(these, those):
    assert len(these) == len(those)
    for a, b in zip(these, those):
        np.testing.assert_array_equal(a, b)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3)).astype("float32")
    return X, (X.sum(axis=1) > 1.5).astype("float32")


def twins(optimizer="sgd", metrics=("accuracy",)):
    """A fastann model and a Keras one with the same architecture and weights."""
    models = []
    for library in (fa, keras):
        model = library.Sequential([library.Input(shape=(3,)),
                                    library.layers.Dense(4, activation="tanh"),
                                    library.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizer,
                      loss="binary_crossentropy", metrics=list(metrics))
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def test_train_on_batch_is_one_keras_step():
    ours, theirs = twins()
    X, y = data()
    for rows in (slice(0, 8), slice(8, 24), slice(0, 8)):
        mine = ours.train_on_batch(X[rows], y[rows])
        keras_result = theirs.train_on_batch(X[rows], y[rows])
        np.testing.assert_allclose(mine, keras_result, rtol=1e-5, atol=1e-6)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours.epochs_trained == 0  # steps, not epochs
    logs = ours.train_on_batch(X, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"} and isinstance(logs["loss"], float)


def test_train_on_batch_continues_like_fit_on_one_full_batch():
    X, y = data()
    stepped, fitted = (fa.Sequential([fa.Dense(4, activation="relu"),
                                      fa.Dense(1, activation="sigmoid")],
                                     input_dim=3, seed=5, dtype="float64") for _ in range(2))
    for model in (stepped, fitted):
        model.compile(optimizer="adam", loss="binary_crossentropy")
    for _ in range(3):
        stepped.train_on_batch(X, y)
    fitted.fit(X, y, batch_size=len(X), epochs=3, shuffle=False, verbose=0)
    assert_same_arrays(stepped.get_weights(), fitted.get_weights())


def test_test_and_predict_on_batch_and_call_match_keras():
    ours, theirs = twins()
    X, y = data()
    np.testing.assert_allclose(ours.test_on_batch(X, y), theirs.test_on_batch(X, y),
                               rtol=1e-5)
    assert ours.test_on_batch(X, y, return_dict=True).keys() == {"loss", "accuracy"}
    out = ours.predict_on_batch(X)
    assert out.dtype == np.float32 and out.shape == (24, 1)
    np.testing.assert_allclose(out, theirs.predict_on_batch(X), rtol=1e-5)
    np.testing.assert_array_equal(ours(X), out)
    with pytest.raises(fa.NotSupportedError, match="training=True"):
        ours(X, training=True)


def test_train_on_batch_refuses_bad_input_and_keeps_the_weights():
    ours, _ = twins()
    X, y = data()
    before = ours.get_weights()
    with pytest.raises(ValueError):
        ours.train_on_batch(X[:, :2], y)
    with pytest.raises(ValueError, match="return_dict"):
        ours.train_on_batch(X, y, return_dict="yes")
    assert_same_arrays(before, ours.get_weights())


def test_shapes_names_and_layer_lookup_as_keras():
    ours, theirs = twins()
    assert ours.input_shape == theirs.input_shape == (None, 3)
    assert ours.output_shape == theirs.output_shape == (None, 1)
    assert ours.metrics_names[0] == "loss"
    X, y = data()
    assert dict(zip(ours.metrics_names, ours.evaluate(X, y, verbose=0))) == \
        ours.evaluate(X, y, verbose=0, return_dict=True)
    assert ours.get_layer(index=0) is ours.layers[0]
    assert ours.get_layer(name=ours.layers[1].name) is ours.layers[1]
    with pytest.raises(ValueError, match="no layer named"):
        ours.get_layer("nope")
    assert [w.shape for w in ours.trainable_weights] == \
        [tuple(w.shape) for w in theirs.trainable_weights]
    assert ours.non_trainable_weights == []


def test_build_draws_the_weights_without_losing_compile():
    model = fa.Sequential([fa.Dense(2), fa.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.build((None, 3))
    assert model.built and model.count_params() == 11 and model.loss == "binary_crossentropy"
    model.fit(*data(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="input shape"):
        model.build((None, 4))


def test_a_history_among_the_callbacks_is_the_one_returned():
    model, _ = twins()
    history = fa.callbacks.History()
    returned = model.fit(*data(), epochs=2, verbose=0, callbacks=[history])
    assert returned is history is model.history
    assert len(history.history["loss"]) == 2 and history.model is model


def test_history_params_keep_verbose_as_given():
    ours, theirs = twins()
    X, y = data()
    for model in (ours, theirs):
        model.fit(X, y, epochs=1, verbose=0)
    assert ours.history.params == theirs.history.params
    assert ours.fit(X, y, epochs=1, verbose=False).params["verbose"] is False


def test_loss_is_what_compile_was_given():
    model = fa.Sequential([fa.Dense(1, activation="sigmoid")], input_dim=3)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    assert model.loss == "binary_crossentropy"
    loss = fa.losses.BinaryCrossentropy()
    model.compile(optimizer="sgd", loss=loss)
    assert model.loss is loss and model.loss_spec.name == "binary_crossentropy"


def test_compile_takes_metrics_third_as_tutorials_write_it():
    model = fa.Sequential([fa.Dense(1, activation="sigmoid")], input_dim=3)
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    assert model.metrics_names == ["loss", "accuracy"]
    model.compile("adam", "binary_crossentropy", [1.0])  # loss_weights for one output
    assert model.metrics_names == ["loss"]
    with pytest.raises(fa.NotSupportedError, match="loss_weights"):
        model.compile("adam", "binary_crossentropy", [0.5])


def test_save_options(tmp_path):
    model, _ = twins()
    path = model.save(tmp_path / "m.keras")
    before = open(path, "rb").read()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(path, overwrite=False)
    assert open(path, "rb").read() == before
    with pytest.raises(fa.NotSupportedError, match="HDF5"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.h5.npz").exists()
    for name in ("m.keras", "m.npz"):
        if name == "m.npz":
            model.save(tmp_path / name)
        loaded = fa.load_model(tmp_path / name)
        assert isinstance(loaded, fa.Sequential) and isinstance(loaded, fa.Model)


def batch_normalized(library):
    return library.Sequential([library.Input(shape=(3,)),
                               library.layers.Dense(4, activation="relu"),
                               library.layers.BatchNormalization(),
                               library.layers.Dense(1, activation="sigmoid")])


def trained_batch_normalized(epochs=3):
    model = batch_normalized(fa)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(*data(), epochs=epochs, verbose=0)
    return model


def test_weights_files_go_both_ways_with_keras(tmp_path):
    X, _ = data()
    ours = trained_batch_normalized()
    path = ours.save_weights(tmp_path / "ours.weights.h5")
    theirs = batch_normalized(keras)
    theirs.load_weights(path)
    np.testing.assert_allclose(theirs.predict(X, verbose=0), ours.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    again = batch_normalized(fa)
    again.load_weights(tmp_path / "theirs.weights.h5")
    assert_same_arrays(again.get_weights(), ours.get_weights())
    ours.save(tmp_path / "whole.keras")
    from_archive = batch_normalized(fa)
    from_archive.load_weights(tmp_path / "whole.keras")
    assert_same_arrays(from_archive.get_weights(), ours.get_weights())


def test_weights_files_are_checked_before_anything_changes(tmp_path):
    model = batch_normalized(fa)
    model.build((None, 3))
    before = model.get_weights()
    other = fa.Sequential([fa.Input(shape=(3,)), fa.layers.Dense(5), fa.layers.Dense(1)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ValueError, match="does not hold this model's weights"):
        model.load_weights(tmp_path / "other.weights.h5")
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5" * 100)
    with pytest.raises(ValueError, match="not a valid .weights.h5 file"):
        model.load_weights(tmp_path / "junk.weights.h5")
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / "other.weights.h5", overwrite=False)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")
    assert_same_arrays(before, model.get_weights())


def test_model_checkpoint_saves_weights_only(tmp_path):
    X, y = data()
    model = batch_normalized(fa)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, y, epochs=2, verbose=0, callbacks=[fa.callbacks.ModelCheckpoint(
        str(tmp_path / "ck-{epoch}.weights.h5"), save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-1.weights.h5",
                                                          "ck-2.weights.h5"]
    restored = batch_normalized(fa)
    restored.load_weights(tmp_path / "ck-2.weights.h5")
    assert_same_arrays(restored.get_weights(), model.get_weights())


def test_model_from_json_reads_a_keras_models_json():
    theirs = batch_normalized(keras)
    ours = fa.models.model_from_json(theirs.to_json())
    assert isinstance(ours, fa.Sequential) and ours.count_params() == theirs.count_params()
    assert [type(layer).__name__ for layer in ours.layers] == \
        ["Dense", "BatchNormalization", "Dense"]
    ours.set_weights(theirs.get_weights())
    X, _ = data()
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    conv = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="fastann cannot read"):
        fa.models.model_from_json(conv.to_json())


def test_keras_archive_of_a_batch_normalized_model_carries_the_optimizer(tmp_path):
    model = trained_batch_normalized()
    path = model.save(tmp_path / "bn.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        theirs = keras.saving.load_model(path)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert int(theirs.optimizer.iterations) == model.optimizer.iterations > 0
    back = fa.load_model(path)
    np.testing.assert_array_equal(back.get_training_state().opt_state,
                                  model.get_training_state().opt_state)


def test_layer_attributes_as_keras():
    ours, theirs = twins()
    for mine, keras_layer in zip(ours.layers, theirs.layers):
        assert mine.count_params() == keras_layer.count_params()
        assert mine.output_shape == keras_layer.output.shape
        np.testing.assert_array_equal(mine.kernel, np.asarray(keras_layer.kernel))
        np.testing.assert_array_equal(mine.bias, np.asarray(keras_layer.bias))
        assert mine.trainable is True
