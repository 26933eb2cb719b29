"""Train, plot, export: scikit-learn's digits with fastann, then the training curves as
a picture, the model as ONNX (checked against ONNX Runtime) and as a Keras 3 file.

Needs scikit-learn, matplotlib, onnx and onnxruntime, h5py
(``pip install 'fastann[onnx,keras,plot]' scikit-learn``).

    python examples/train_plot_export.py [OUT_DIR]     # default: the current directory

writes OUT_DIR/digits_history.png, OUT_DIR/digits.onnx and OUT_DIR/digits.keras. The
README's picture is ``python examples/train_plot_export.py docs``.
"""
import os
import sys

import numpy as np

import fastann as fa

EPOCHS = 40


def make_data(seed=0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train).astype(np.float32), y_train,
            scaler.transform(X_test).astype(np.float32), y_test)


def main(out_dir=".", epochs=EPOCHS, quiet=False):
    """Returns (model, history, {"png": path, "onnx": path, "keras": path})."""
    say = (lambda *a: None) if quiet else print
    X_train, y_train, X_test, y_test = make_data()
    model = fa.Model([fa.Dense(64, activation="relu"), fa.Dense(10, activation="softmax")],
                     input_dim=64, dtype="float32", seed=0)
    model.compile(optimizer=fa.Adam(lr=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=32,
                        validation_split=0.2, verbose=0)
    accuracy = float((model.predict_proba(X_test).argmax(1) == y_test).mean())
    say(f"test accuracy after {epochs} epochs: {accuracy:.3f}")

    os.makedirs(out_dir, exist_ok=True)
    paths = {"png": os.path.join(out_dir, "digits_history.png"),
             "onnx": os.path.join(out_dir, "digits.onnx"),
             "keras": os.path.join(out_dir, "digits.keras")}
    history.plot(path=paths["png"], title="fastann on scikit-learn's digits (64-64-10)")
    say(f"wrote {paths['png']}")

    model.export(paths["onnx"], format="onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    (outputs,) = session.run(None, {"input": X_test})
    gap = float(np.abs(outputs - model.predict_proba(X_test)).max())
    say(f"wrote {paths['onnx']}: ONNX Runtime's outputs differ from fastann's by "
        f"at most {gap:.1e}")

    model.save(paths["keras"])
    again = fa.load_model(paths["keras"])
    same = np.array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    say(f"wrote {paths['keras']} (keras.saving.load_model reads it); read back by "
        f"fastann: {'same' if same else 'different'} predictions")
    return model, history, paths


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
