"""scikit-learn estimators on fastann's compiled trainer: drop-ins for
``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``.

    from fastann.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=0).fit(X, y)
"""
from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
