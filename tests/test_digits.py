"""examples/digits.py: scikit-learn's digits, 64-128-10, sparse categorical
cross-entropy, Adam: >= 0.95 test accuracy. Skipped without scikit-learn."""

import numpy as np
import pytest
from cases import load_example

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits():
    return load_example("digits")


def test_data_is_standardised_with_training_statistics(digits):
    X_train, y_train, X_test, y_test = digits.make_data()
    assert X_train.shape[1] == 64 and X_train.shape[0] + X_test.shape[0] == 1797
    assert set(np.unique(y_train)) == set(range(10))
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)
    assert np.all(np.isclose(X_train.std(axis=0), 1) | np.isclose(X_train.std(axis=0), 0))


def test_digits_reach_95_percent(digits):
    result = digits.main(verbose=0)
    assert result["test_accuracy"] >= 0.95
    model = digits.build_model()
    assert model.layout.sizes == (64, 128, 10)
    assert result["history"]["val_accuracy"][-1] >= 0.9
