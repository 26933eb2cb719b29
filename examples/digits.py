"""scikit-learn's handwritten digits (8x8 images, 10 classes) with fastann.

1,797 images, a stratified 75/25 train/test split, pixels standardised with the
training rows' statistics; a 64-128-10 network (ReLU, softmax) trained with sparse
categorical cross-entropy on the integer labels and Adam, batches of 32, 10% of the
training rows held out for validation. Needs scikit-learn (``pip install scikit-learn``).

    python examples/digits.py
"""
import numpy as np

import fastann as fa

EPOCHS = 30
BATCH_SIZE = 32


def make_data(seed=0):
    """(X_train, y_train, X_test, y_test), standardised; y are labels 0..9."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)  # constant pixels keep a scale of 1
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def build_model(seed=0):
    model = fa.Model([fa.Dense(128, activation="relu", kernel_initializer="he_normal"),
                      fa.Dense(10, activation="softmax")], input_dim=64, seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(),
                  metrics=["accuracy"])
    return model


def main(verbose=2):
    """Train, print the test accuracy and return {"test_accuracy", "history"}."""
    X_train, y_train, X_test, y_test = make_data()
    model = build_model()
    history = model.fit(X_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE,
                        validation_split=0.1, verbose=verbose)
    test = model.evaluate(X_test, y_test, verbose=0, return_dict=True)
    predicted = model.predict_classes(X_test)
    if verbose:
        print(f"Test loss: {test['loss']:.4f} - test accuracy: {test['accuracy']:.4f}")
        confusion = np.zeros((10, 10), np.int64)
        np.add.at(confusion, (y_test, predicted), 1)
        print("Confusion matrix (rows: true digit, columns: predicted):")
        print(confusion)
    return {"test_accuracy": test["accuracy"], "history": history.history}


if __name__ == "__main__":
    main()
