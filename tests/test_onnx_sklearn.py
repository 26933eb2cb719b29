"""skl2onnx converts a Pipeline ending in a fastann estimator (with no registration
step, fastann.sklearn and skl2onnx imported in either order), and ONNX Runtime gives the
pipeline's predict_proba and predict, multi-label and Poisson heads included.

The converter reads scikit-learn's MLP attributes, so it is also checked on estimators
that are scikit-learn's own MLPs trained for real (registered under a subclass, so
skl2onnx's built-in MLP converter is not the one used); fastann's estimators are checked
when fastann.sklearn exists."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
sklearn = pytest.importorskip("sklearn")

import onnxruntime as ort  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastann.export.skl2onnx import register  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class ViaFastannClassifier(MLPClassifier):
    pass


class ViaFastannRegressor(MLPRegressor):
    pass


def _data(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 4)) * 3 + 1
    y = (X[:, 0] > 1).astype(int) + (X[:, 1] > 1) * (n_classes > 2)
    return X.astype(np.float32), y


def _session(onx):
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def _check_classifier(pipeline, X):
    onx = skl2onnx.to_onnx(pipeline, X[:1], options={"zipmap": False})
    names = [o.name for o in onx.graph.output]
    ops = {node.op_type for node in onx.graph.node}
    assert "Gemm" in ops and "Gather" in ops  # fastann's converter, not skl2onnx's MLP one
    assert "ArrayFeatureExtractor" not in ops
    label, probabilities = _session(onx).run(names, {"X": X})
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(label, pipeline.predict(X))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_pipeline_with_an_mlp_classifier(n_classes, activation):
    register(classifiers=[ViaFastannClassifier])
    X, y = _data(n_classes)
    pipeline = make_pipeline(StandardScaler(), ViaFastannClassifier(
        hidden_layer_sizes=(8,), activation=activation, max_iter=300, random_state=0))
    pipeline.fit(X, y)
    _check_classifier(pipeline, X)


def test_pipeline_with_an_mlp_regressor():
    register(regressors=[ViaFastannRegressor])
    X, _ = _data(2)
    y = X[:, 0] * 2 - X[:, 1]
    pipeline = make_pipeline(StandardScaler(), ViaFastannRegressor(
        hidden_layer_sizes=(8,), max_iter=500, random_state=0)).fit(X, y)
    onx = skl2onnx.to_onnx(pipeline, X[:1])
    (variable,) = _session(onx).run(None, {"X": X})
    np.testing.assert_allclose(variable[:, 0], pipeline.predict(X), rtol=1e-4, atol=1e-4)


def test_fastann_estimators_in_a_pipeline():
    fastann_sklearn = pytest.importorskip("fastann.sklearn")
    register()
    X, y = _data(3)
    classifier = make_pipeline(StandardScaler(), fastann_sklearn.MLPClassifier()).fit(X, y)
    _check_classifier(classifier, X)
    onx = skl2onnx.to_onnx(classifier, X[:1])  # default zipmap: a list of dicts
    label, probabilities = _session(onx).run(None, {"X": X})
    assert set(probabilities[0]) == set(classifier.classes_.tolist())
    regressor = make_pipeline(StandardScaler(), fastann_sklearn.MLPRegressor()).fit(
        X, X[:, 0] - X[:, 2])
    (variable,) = _session(skl2onnx.to_onnx(regressor, X[:1])).run(None, {"X": X})
    np.testing.assert_allclose(variable.reshape(-1), regressor.predict(X).reshape(-1),
                               rtol=1e-4, atol=1e-4)


CONVERT_WITHOUT_REGISTERING = """
import sys
import numpy as np
{imports}
import onnxruntime as ort
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
rng = np.random.default_rng(0)
X = rng.standard_normal((120, 4)).astype(np.float32)
for y in ((X[:, 0] > 0).astype(int), (X[:, :3] > 0).astype(int)):
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=30,
                                                             random_state=0)).fit(X, y)
    onx = skl2onnx.to_onnx(pipeline, X[:1], options={{"zipmap": False}})
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, {{"X": X}})
    assert np.array_equal(label, pipeline.predict(X)), (label[:3], pipeline.predict(X)[:3])
    assert np.allclose(probabilities, pipeline.predict_proba(X), atol=1e-5)
print("converted")
"""


def _run_python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("imports", [
    "from fastann.sklearn import MLPClassifier\nimport skl2onnx",
    "import skl2onnx\nfrom fastann.sklearn import MLPClassifier",
])
def test_converts_without_a_registration_step(imports):
    pytest.importorskip("fastann.sklearn")
    result = _run_python(CONVERT_WITHOUT_REGISTERING.format(imports=imports))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "converted"


def test_importing_fastann_sklearn_imports_no_onnx():
    pytest.importorskip("fastann.sklearn")
    result = _run_python("""
        import sys
        import fastann, fastann.sklearn
        print(sorted(name for name in sys.modules
                     if name.split(".")[0] in ("skl2onnx", "onnx", "onnxruntime")))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_multilabel_classifier_as_sklearns_converter():
    """label: the (n, n_labels) int64 indicator skl2onnx's own MLP converter gives."""
    fastann_sklearn = pytest.importorskip("fastann.sklearn")
    X, _ = _data(2)
    Y = np.stack([X[:, 0] > 1, X[:, 1] > 1, X[:, 0] + X[:, 2] > 2], axis=1).astype(int)
    ours = make_pipeline(StandardScaler(), fastann_sklearn.MLPClassifier(
        (8,), max_iter=200, random_state=0)).fit(X, Y)
    theirs = make_pipeline(StandardScaler(), MLPClassifier(
        (8,), max_iter=200, random_state=0)).fit(X, Y)
    outputs = {}
    for name, pipeline in (("ours", ours), ("theirs", theirs)):
        onx = skl2onnx.to_onnx(pipeline, X[:1], options={"zipmap": False})
        outputs[name] = _session(onx).run(None, {"X": X})
    label, probabilities = outputs["ours"]
    assert label.dtype == outputs["theirs"][0].dtype == np.int64
    assert label.shape == outputs["theirs"][0].shape == Y.shape
    np.testing.assert_array_equal(label, ours.predict(X))
    np.testing.assert_allclose(probabilities, ours.predict_proba(X), atol=1e-5)


def test_poisson_regressor_converts():
    fastann_sklearn = pytest.importorskip("fastann.sklearn")
    X, _ = _data(2)
    y = np.random.default_rng(1).poisson(np.exp(0.3 * X[:, 0]))
    pipeline = make_pipeline(StandardScaler(), fastann_sklearn.MLPRegressor(
        loss="poisson", hidden_layer_sizes=(8,), max_iter=100, random_state=0)).fit(X, y)
    (variable,) = _session(skl2onnx.to_onnx(pipeline, X[:1])).run(None, {"X": X})
    np.testing.assert_allclose(variable.reshape(-1), pipeline.predict(X), rtol=1e-4)
