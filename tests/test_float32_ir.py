"""A float32 model's kernels do float32 arithmetic only: no float64 operation, no
conversion to float64, anywhere in the compiled training, evaluation or prediction code,
and no kernel is compiled for float64 at all.

The machine code can only be inspected right after compiling (Numba does not keep the
IR of cached code), so this runs in a subprocess with an empty cache directory.
"""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import re
    import numpy as np
    import fastann as fa
    from fastann.kernels import train

    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    runs = [
        ("relu", "sigmoid", "binary_crossentropy", (X.sum(1) > 1.5).astype(int), "adam"),
        ("tanh", "softmax", "sparse_categorical_crossentropy", rng.integers(0, 3, 40), "rmsprop"),
        ("leaky_relu", "linear", "mse", X.sum(1), fa.SGD(lr=0.01, momentum=0.9)),
        ("gelu", "mish", "mse", X.sum(1), "sgd"),
    ]
    for hidden, output, loss, y, optimizer in runs:
        units = 3 if output == "softmax" else 1
        model = fa.Model([fa.Dense(8, activation=hidden), fa.Dense(units, activation=output)],
                         dtype="float32", seed=1)
        model.compile(loss=loss, optimizer=optimizer)
        model.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
        model.evaluate(X, y, verbose=0, return_dict=True)
        model.predict_classes(X)
    # the confusion-count and top-k metrics, in the fused loop and the batch-by-batch path
    model = fa.Model([fa.Dense(8, activation="relu"), fa.Dense(3, activation="softmax")],
                     dtype="float32", seed=1)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=[
        "accuracy", "auc", fa.metrics.AUC(curve="PR", from_logits=True, name="pr"),
        fa.metrics.AUC(7, summation_method="minoring", name="low"), "precision", "recall",
        fa.metrics.Precision(top_k=2, class_id=1, name="p2"),
        "top_k_categorical_accuracy"])
    labels = runs[1][3]
    model.fit(X, labels, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    model.fit(X, labels, epochs=1, batch_size=16, verbose=0, callbacks=[
        fa.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)])
    model.evaluate(X, labels, verbose=0)
    # the general passes too: every layer type, with a Dense without bias where possible
    from fastann.layers import Activation, BatchNormalization, Dropout
    no_bias = {"use_bias": False} if "use_bias" in fa.Dense.__dataclass_fields__ else {}
    model = fa.Model([fa.Dense(8, activation="relu", **no_bias), BatchNormalization(),
                      Dropout(0.2, seed=1), Activation("tanh"),
                      fa.Dense(1, activation="sigmoid")], dtype="float32", seed=1)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    y = runs[0][3]
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    model.evaluate(X, y, verbose=0)
    model.predict(X, verbose=0)
    from fastann.kernels import activations
    # the smooth activations (erf, expm1, log1p, ...) are kernels of their own
    for kernel in (train.train_epochs, train.infer_dataset, activations.smooth_forward,
                   activations.smooth_backward):
        assert kernel.signatures, kernel
        for signature in kernel.signatures:
            assert "float64" not in str(signature), (kernel, signature)
            ir = kernel.inspect_llvm(signature)
            float_ops = re.findall(r"= (?:fadd|fsub|fmul|fdiv|fcmp \\w+)[^%]*? float\\b", ir)
            double_ops = re.findall(
                r"= (?:fadd|fsub|fmul|fdiv|fcmp \\w+|fpext|sitofp|uitofp)[^%\\n]*?\\bdouble\\b", ir)
            assert float_ops, "no float32 arithmetic found: the IR check is broken"
            assert not double_ops, (kernel.__name__, double_ops[:5])
    # and no kernel, inner ones included, was specialised for float64 at all
    from fastann.kernels import _jit
    compiled = [(d.py_func.__name__, str(s)) for d in _jit.kernels_on_disk for s in d.signatures]
    compiled_names = {name for name, _ in compiled}
    assert {"train_epochs", "infer_dataset", "dense_forward", "loss_and_delta",
            "batchnorm_forward", "dropout_forward"} <= compiled_names, compiled
    assert not [c for c in compiled if "float64" in c[1]], compiled
    print("checked", sum(len(k.signatures) for k in (train.train_epochs, train.infer_dataset)))
""")


def test_float32_kernels_contain_no_float64_arithmetic(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checked" in done.stdout
