"""scikit-learn estimators on fastann's compiled trainer: drop-ins for
``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``.

    from fastann.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=0).fit(X, y)
"""
from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
from ._skl2onnx_hook import install as _install_skl2onnx_converters

_install_skl2onnx_converters()  # when skl2onnx is imported, before or after this
