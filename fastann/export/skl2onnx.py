"""An ``skl2onnx`` converter for fastann's scikit-learn estimators, so
``skl2onnx.to_onnx(pipeline, X)`` converts a Pipeline that ends in one.

    import fastann.sklearn, skl2onnx    # either order: registered when both are imported
    onx = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32))

``fastann.sklearn`` registers fastann's estimators itself, once skl2onnx is imported
(``fastann.sklearn._skl2onnx_hook``); ``register`` registers other classes.

A classifier's graph gives ``label`` and ``probabilities`` as scikit-learn's own
MLPClassifier converter does (``predict_proba``'s columns; with the default option
``zipmap=True`` skl2onnx turns them into a list of {class: probability}; a multi-label
classifier's label is the (n, n_labels) indicator of probabilities above 0.5); a regressor's
gives ``variable`` (n, n_outputs). The network is built with the same operator table as
``fastann.export.onnx``: from the estimator's fastann model (``model_``) when it has one,
else from scikit-learn's fitted attributes ``coefs_``, ``intercepts_``, ``activation``
and ``out_activation_``. The graph computes in the input's type (float32, or float64
with a double input).
"""
import numpy as np

from . import onnx as fastann_onnx
from ._layers import LayerInfo, describe, require

SKLEARN_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid",  # sklearn -> fastann
                       "exp": "exponential"}


class _ContainerGraph:
    """``fastann.export.onnx``'s graph interface over skl2onnx's scope and container."""

    def __init__(self, scope, container, onnx, proto_dtype):
        self.scope, self.container, self.onnx = scope, container, onnx
        self.tensor_type = proto_dtype
        self.dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(proto_dtype))

    def name(self, stem):
        return self.scope.get_unique_variable_name(stem)

    def constant(self, stem, value, dtype=None):
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(stem)
        self.container.add_initializer(
            name, self.onnx.helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape),
            array.ravel().tolist())
        return name

    def scalar(self, value):
        return self.constant("c", value)

    def op(self, op_type, inputs, opset=fastann_onnx.MIN_OPSET, stem=None, **attributes):
        output = self.name(stem or op_type.lower())
        self.container.add_node(op_type, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op_type),
                                op_version=opset, **attributes)
        return output


def _layer_infos(estimator):
    """[LayerInfo] of the estimator's network."""
    from ..model import Model

    model = getattr(estimator, "model_", None)
    if isinstance(model, Model):
        return describe(model, "convert to ONNX")
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    hidden = SKLEARN_ACTIVATIONS.get(estimator.activation, estimator.activation)
    output = SKLEARN_ACTIVATIONS.get(estimator.out_activation_, estimator.out_activation_)
    infos = []
    for index, (W, b) in enumerate(zip(coefs, intercepts)):
        name = output if index == len(coefs) - 1 else hidden
        infos.append(LayerInfo(index, "Dense", None, name, [W, b], W.shape[0], W.shape[1]))
    return infos


def _network(scope, operator, container):
    """The estimator's outputs (n, n_out) in the input's float type."""
    onnx = require("onnx", "onnx", "ONNX conversion")
    from skl2onnx.common.data_types import guess_proto_type

    proto_dtype = guess_proto_type(operator.inputs[0].type)
    if proto_dtype != onnx.TensorProto.DOUBLE:
        proto_dtype = onnx.TensorProto.FLOAT
    g = _ContainerGraph(scope, container, onnx, proto_dtype)
    x = g.op("Cast", [operator.inputs[0].full_name], to=proto_dtype)
    for info in _layer_infos(operator.raw_operator):
        x = fastann_onnx.LAYERS[info.kind](g, x, info)
    return g, x


def convert_classifier(scope, operator, container):
    """label (n,) and probabilities (n, n_classes), as scikit-learn's MLP converter."""
    estimator = operator.raw_operator
    g, outputs = _network(scope, operator, container)
    classes = np.asarray(estimator.classes_)
    probabilities = operator.outputs[1].full_name
    if outputs and len(classes) == 2 and _n_outputs(estimator) == 1:
        negative = g.op("Sub", [g.scalar(1), outputs])
        container.add_node("Concat", [negative, outputs], [probabilities], axis=1,
                           name=scope.get_unique_operator_name("Concat"))
    else:
        container.add_node("Identity", [outputs], [probabilities],
                           name=scope.get_unique_operator_name("Identity"))
    if _multilabel(estimator):  # an indicator per label, as skl2onnx's MLP converter
        above = g.op("Greater", [probabilities, g.scalar(0.5)])
        container.add_node("Cast", [above], [operator.outputs[0].full_name],
                           to=g.onnx.TensorProto.INT64,
                           name=scope.get_unique_operator_name("Cast"))
        return
    index = g.op("ArgMax", [probabilities], axis=1, keepdims=0)
    if np.issubdtype(classes.dtype, np.integer) or classes.dtype == np.bool_:
        labels = g.constant("classes", classes.astype(np.int64), dtype=np.int64)
    else:
        labels = g.name("classes")
        container.add_initializer(labels, g.onnx.TensorProto.STRING, [len(classes)],
                                  [str(c).encode("utf-8") for c in classes])
    container.add_node("Gather", [labels, index], [operator.outputs[0].full_name], axis=0,
                       name=scope.get_unique_operator_name("Gather"))


def convert_regressor(scope, operator, container):
    _, outputs = _network(scope, operator, container)
    container.add_node("Identity", [outputs], [operator.outputs[0].full_name],
                       name=scope.get_unique_operator_name("Identity"))


def _multilabel(estimator):
    binarizer = getattr(estimator, "_label_binarizer", None)
    return getattr(binarizer, "y_type_", None) == "multilabel-indicator"


def calculate_classifier_output_shapes(operator):
    """skl2onnx's linear-classifier shapes; a multi-label label output is (N, n_labels)."""
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.shape_calculators.linear_classifier import (
        calculate_linear_classifier_output_shapes)

    calculate_linear_classifier_output_shapes(operator)
    estimator = operator.raw_operator
    if _multilabel(estimator):
        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType(shape=[rows, len(estimator.classes_)])


def _n_outputs(estimator):
    model = getattr(estimator, "model_", None)
    if model is not None and hasattr(model, "layers"):
        return int(model.layers[-1].units)
    return int(estimator.coefs_[-1].shape[1])


def register(classifiers=None, regressors=None):
    """Register the converters with skl2onnx.

    Parameters
    ----------
    classifiers, regressors : list of classes, optional
        Default: ``fastann.sklearn.MLPClassifier`` and ``MLPRegressor``. Any estimator
        class with scikit-learn MLP's fitted attributes (or a fastann ``model_``) works.

    Returns
    -------
    list of classes registered
    """
    skl2onnx = require("skl2onnx", "onnx", "Converting a scikit-learn pipeline")
    from skl2onnx.shape_calculators.linear_regressor import (
        calculate_linear_regressor_output_shapes)

    if classifiers is None and regressors is None:
        from .. import sklearn as fastann_sklearn  # not there: ImportError, as it should
        classifiers = [fastann_sklearn.MLPClassifier]
        regressors = [fastann_sklearn.MLPRegressor]
    done = []
    for cls in classifiers or []:
        skl2onnx.update_registered_converter(
            cls, f"Fastann{cls.__name__}", calculate_classifier_output_shapes,
            convert_classifier, options={"zipmap": [True, False, "columns"],
                                         "nocl": [True, False]})
        done.append(cls)
    for cls in regressors or []:
        skl2onnx.update_registered_converter(
            cls, f"Fastann{cls.__name__}", calculate_linear_regressor_output_shapes,
            convert_regressor)
        done.append(cls)
    return done
