"""Deployment: a model as an ONNX graph, as a Keras 3 ``.keras`` archive, and (with
scikit-learn) inside an ``skl2onnx`` pipeline conversion.

Each format lives in its own module and imports its optional packages only when used:

* ``onnx.py``        ``export_onnx(model, path)`` (``Model.export(path, format="onnx")``),
* ``keras_file.py``  ``save_keras(model, path)`` / ``load_keras(path)`` (``Model.save`` and
  ``fastann.load_model`` on a ``.keras`` path),
* ``skl2onnx.py``    the converter that lets ``skl2onnx.to_onnx`` convert a Pipeline ending
  in a fastann scikit-learn estimator.
"""
from ._layers import describe  # noqa: F401
