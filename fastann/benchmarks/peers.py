"""``fastann bench --peers``: fastann against the libraries users would train the same
networks with, whichever are installed: JAX, scikit-learn, Keras 3 (JAX backend, in a
subprocess), PyTorch and FANN's C training loop (libfann, through ctypes); and
``fastann.reference`` (NumPy) as the common baseline.

Every side starts each round from the workload's initial weights (fastann's, copied
into the peer), trains the same network on the same data and batches for a fixed
number of epochs, and reports its last epoch's loss, shown beside fastann's so that
nobody is timed doing less work. Rounds are interleaved, and each side's round starts
after a pause (``Settings.pause_s``): BLAS and XLA threads spin for about 0.1 s after
a large product and would otherwise slow the next side down.

How each peer is written (as an expert writes it, on its public API):

- JAX: one ``jax.jit`` function runs many epochs (``lax.fori_loop``), each epoch a
  ``lax.scan`` over its full batches plus the last, shorter batch; the permutation of a
  shuffled epoch is drawn inside. float64 workloads run with ``jax_enable_x64``.
- scikit-learn: ``MLPClassifier`` (``alpha=0``, ``momentum=0`` for plain SGD,
  ``n_iter_no_change`` beyond the epochs so it never stops early); the initial
  weights are set on ``coefs_``/``intercepts_`` of a one-epoch fit, then
  ``warm_start=True`` trains the round. It has no sigmoid-output MSE network
  (perceptron).
- Keras 3: ``Sequential`` of ``Dense`` layers, ``set_weights``, ``compile``, ``fit`` with
  ``verbose=0``, in a subprocess with ``KERAS_BACKEND=jax``; compiled once, each round
  restarts from the initial weights with the optimizer's variables zeroed.
- PyTorch: ``torch.nn.Sequential`` and autograd, the loop over preallocated batch
  views with a fused optimizer and the thread count fastann's policy picks
  (``TorchSide``).
- FANN 2.2: ``fann_train_on_data`` (its C loop over epochs) with ``FANN_TRAIN_BATCH``
  (full-batch gradient descent) and the MSE error function; only the full-batch
  workloads, with sigmoid hidden units (FANN 2.2 has no ReLU) and MSE loss, which
  the table notes.
"""
import contextlib
import ctypes
import datetime
import ctypes.util
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

from . import workloads as _workloads
from .rounds import calibrate, fastann_round, reference_round

LOSS_EPOCHS = 3  # at least this many epochs before the losses are compared
PEERS = ("jax", "sklearn", "keras", "torch", "fann")
ALL_SIDES = ("fastann", "reference") + PEERS


def _final_loss(losses):
    return float(losses[-1]) if len(losses) else float("nan")


# ------------------------------------------------------------------ JAX
class JaxSide:
    """The workload in JAX: one jitted function trains ``epochs`` epochs."""

    name = "jax"

    def __init__(self, workload):
        import jax

        if workload.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax import lax

        self.workload = workload
        dtype = jnp.dtype(workload.dtype)
        self.X = jnp.asarray(workload.X)
        self.Y = jnp.asarray(workload.Y)
        n = workload.n_samples
        batch = workload.batch_rows
        full, rest = divmod(n, batch)
        activations = workload.activations
        loss_name, lr = workload.loss, workload.lr
        adam = workload.optimizer == "adam"
        shuffle = workload.shuffle
        opt = workload.optimizer_instance()
        beta_1 = getattr(opt, "beta_1", 0.9)
        beta_2 = getattr(opt, "beta_2", 0.999)
        epsilon = getattr(opt, "epsilon", 1e-7)

        def forward(params, X):
            A = X
            for l, activation in enumerate(activations):
                Z = A @ params[2 * l] + params[2 * l + 1]
                if activation == "relu":
                    A = jax.nn.relu(Z)  # derivative 0 at 0 (jnp.maximum's is 0.5 there)
                elif activation == "sigmoid":
                    A = jax.nn.sigmoid(Z) if l < len(activations) - 1 else Z
                elif activation == "softmax":
                    A = Z  # the loss takes the logits
                else:
                    raise ValueError(f"no JAX form for {activation!r}")
            return A

        def loss_of(params, X, Y):
            out = forward(params, X)
            if loss_name == "binary_crossentropy":  # on the logits: softplus(z) - y z,
                # whose derivative is sigmoid(z) - y at 0 too (max and abs forms are not)
                return jnp.mean(jax.nn.softplus(out) - out * Y)
            if loss_name == "sparse_categorical_crossentropy":
                return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(out), axis=1))
            if loss_name == "mse":
                return jnp.mean((jax.nn.sigmoid(out) - Y) ** 2)
            raise ValueError(f"no JAX form for {loss_name!r}")

        grad = jax.value_and_grad(loss_of)

        def step(state, X, Y):
            params, m, v, t = state
            loss, grads = grad(params, X, Y)
            if adam:
                t = t + 1
                m = [beta_1 * mi + (1 - beta_1) * g for mi, g in zip(m, grads)]
                v = [beta_2 * vi + (1 - beta_2) * g * g for vi, g in zip(v, grads)]
                scale = lr * jnp.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
                params = [p - (scale * mi / (jnp.sqrt(vi) + epsilon)).astype(dtype)
                          for p, mi, vi in zip(params, m, v)]
            else:
                params = [p - (lr * g).astype(dtype) for p, g in zip(params, grads)]
            return (params, m, v, t), loss

        def epoch(carry, X, Y):
            state, key, _ = carry
            if shuffle:
                key, sub = jax.random.split(key)
                order = jax.random.permutation(sub, n)
                X, Y = X[order], Y[order]
            Xb = X[:full * batch].reshape(full, batch, -1)
            Yb = Y[:full * batch].reshape(full, batch, -1)
            state, losses = lax.scan(lambda s, xy: step(s, xy[0], xy[1]), state, (Xb, Yb))
            total = jnp.sum(losses) * batch
            if rest:
                state, last = step(state, X[full * batch:], Y[full * batch:])
                total = total + last * rest
            return state, key, total / n

        def train(state, key, epochs, X, Y):  # the data as arguments, not constants
            return lax.fori_loop(0, epochs, lambda i, carry: epoch(carry, X, Y),
                                 (state, key, jnp.zeros((), dtype)))

        self._train = jax.jit(train)
        self._jnp = jnp
        self._jax = jax

    def __call__(self, workload, epochs):
        jnp = self._jnp
        weights, _ = workload.initial_weights()
        params = [jnp.asarray(w) for w in weights]
        state = (params, [jnp.zeros_like(p) for p in params],
                 [jnp.zeros_like(p) for p in params], jnp.zeros((), jnp.int32))
        key = self._jax.random.PRNGKey(0)
        start = time.perf_counter()
        carry = self._train(state, key, epochs, self.X, self.Y)
        self._jax.block_until_ready(carry)
        elapsed = time.perf_counter() - start
        return elapsed, np.array([float(carry[2])])


# ------------------------------------------------------------------ scikit-learn
class SklearnSide:
    """``MLPClassifier`` from the initial weights, ``warm_start`` for each round."""

    name = "sklearn"

    def __init__(self, workload):
        from sklearn.neural_network import MLPClassifier

        if workload.loss == "mse":
            raise _Unsupported("scikit-learn has no sigmoid-output MSE network")
        hidden = workload.activations[:-1]
        if any(a != hidden[0] for a in hidden) or hidden[0] not in ("relu", "tanh",
                                                                    "logistic"):
            raise _Unsupported(f"hidden activations {hidden}")
        self.options = dict(
            hidden_layer_sizes=tuple(workload.units[:-1]), activation=hidden[0],
            solver=workload.optimizer, alpha=0.0, learning_rate_init=workload.lr,
            batch_size=workload.batch_rows, shuffle=workload.shuffle, tol=0.0,
            n_iter_no_change=10 ** 9, random_state=0, momentum=0.0,
            nesterovs_momentum=False, epsilon=1e-7)
        self.y = workload.y.astype(np.int64)
        self.X = workload.X
        self.model_class = MLPClassifier

    def __call__(self, workload, epochs):
        weights, _ = workload.initial_weights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: epochs are fixed here
            model = self.model_class(max_iter=1, **self.options).fit(self.X, self.y)
            model.coefs_ = [w.copy() for w in weights[0::2]]
            model.intercepts_ = [b.copy() for b in weights[1::2]]
            model.set_params(warm_start=True, max_iter=epochs)
            start = time.perf_counter()
            model.fit(self.X, self.y)
            elapsed = time.perf_counter() - start
        return elapsed, np.asarray(model.loss_curve_[-epochs:], np.float64)


# ------------------------------------------------------------------ Keras 3
_KERAS_WORKER = r"""
import json, os, sys, time
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np
spec = json.loads(sys.stdin.readline())
import keras
if spec["dtype"] == "float64":
    import jax
    jax.config.update("jax_enable_x64", True)
keras.config.set_floatx(spec["dtype"])
data = np.load(spec["data"])
X, y = data["X"], data["y"]
weights = [data[f"w{i}"] for i in range(spec["n_weights"])]
model = keras.Sequential([keras.Input((X.shape[1],))] + [
    keras.layers.Dense(u, activation=a) for u, a in zip(spec["units"], spec["activations"])])
opt = (keras.optimizers.Adam(learning_rate=spec["lr"], epsilon=1e-7)
       if spec["optimizer"] == "adam" else keras.optimizers.SGD(learning_rate=spec["lr"]))
model.compile(optimizer=opt, loss=spec["loss"])
model.fit(X[:1], y[:1], epochs=1, verbose=0)  # builds the optimizer's variables
def restart():
    # the initial weights, and the optimizer's state (moments, step count) zeroed: a
    # fresh start without compiling train_step again
    model.set_weights(weights)
    for variable in model.optimizer.variables:
        if "learning_rate" not in variable.name:  # a variable too in Keras 3: keep it
            variable.assign(np.zeros(variable.shape, variable.dtype))
print(json.dumps({"ready": keras.__version__}), flush=True)
for line in sys.stdin:
    epochs = int(line)
    restart()
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=spec["batch_size"],
                        shuffle=spec["shuffle"], verbose=0)
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "losses": history.history["loss"]}), flush=True)
"""


class KerasSide:
    """Keras 3 on the JAX backend in a subprocess, which reads epochs per round on its
    stdin and answers with the seconds ``fit`` took and the losses."""

    name = "keras"

    def __init__(self, workload, directory):
        import importlib.util

        if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
            raise _Unsupported("keras or jax not installed")
        weights, _ = workload.initial_weights()
        path = os.path.join(directory, f"{workload.name}-keras.npz")
        np.savez(path, X=workload.X, y=workload.y,
                 **{f"w{i}": w for i, w in enumerate(weights)})
        spec = {"dtype": workload.dtype, "data": path, "n_weights": len(weights),
                "units": list(workload.units), "activations": list(workload.activations),
                "lr": workload.lr, "optimizer": workload.optimizer, "loss": workload.loss,
                "batch_size": workload.batch_rows, "shuffle": workload.shuffle}
        environment = dict(os.environ, KERAS_BACKEND="jax")
        self.process = subprocess.Popen([sys.executable, "-c", _KERAS_WORKER],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=environment, text=True)
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            self.close()
            raise _Unsupported("the Keras worker failed to start")
        self.version = json.loads(answer)["ready"]

    def __call__(self, workload, epochs):
        self.process.stdin.write(f"{epochs}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["seconds"], np.asarray(answer["losses"], np.float64)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ------------------------------------------------------------------ PyTorch
def _policy_threads(workload):
    """The threads fastann's ``fit`` would give this network's products now
    (``_blas_threads``), so that PyTorch runs on as many cores as fastann does."""
    from .. import _blas_threads as policy

    work = policy.largest_product(workload.sizes, workload.batch_rows)
    if work < 2 * policy.WORK_PER_THREAD:
        return 1
    return policy.blas_threads(work, policy.usable_cores(), policy.busy_cores())


class TorchSide:
    """``torch.nn.Sequential`` trained as an expert writes the loop on the CPU: the data
    and a shuffled copy preallocated (each shuffled epoch gathers into it with
    ``index_select(out=...)``, batches are views), the output layer's activation folded
    into the loss (``BCEWithLogitsLoss``, ``CrossEntropyLoss`` on the logits), the
    optimizer fused (``fused=True``: one C++ kernel over all parameters), no ``.item()``
    inside an epoch (the loss is summed in a tensor), and ``torch.set_num_threads`` at
    the thread count fastann's policy picks for the same network. No
    ``torch.compile``: ``torch.compile(network)`` took 36 s to compile mnist_shape's
    network on the 2-core machine and its epochs were no faster than eager ones (the
    step is a few large library calls, little for it to fuse)."""

    name = "torch"

    def __init__(self, workload):
        import torch

        self.torch = torch
        self.dtype = getattr(torch, workload.dtype)
        self.X = torch.from_numpy(np.ascontiguousarray(workload.X))
        if workload.loss == "sparse_categorical_crossentropy":
            self.target = torch.from_numpy(workload.y.astype(np.int64))
            self.loss_function = torch.nn.CrossEntropyLoss()
        else:
            self.target = torch.from_numpy(np.ascontiguousarray(workload.Y))
            self.loss_function = (torch.nn.MSELoss() if workload.loss == "mse"
                                  else torch.nn.BCEWithLogitsLoss())
        self.X_shuffled = torch.empty_like(self.X)
        self.target_shuffled = torch.empty_like(self.target)
        self.network = self._network(workload)
        self.forward = self.network  # what a step calls (the network, compiled or not)
        self.threads = None  # the thread count of the last round

    def _network(self, workload):
        torch = self.torch
        layers = []
        for l, (units, activation) in enumerate(zip(workload.units, workload.activations)):
            layers.append(torch.nn.Linear(workload.sizes[l], units, dtype=self.dtype))
            if activation == "relu":
                layers.append(torch.nn.ReLU())
            elif activation == "sigmoid" and workload.loss == "mse":
                layers.append(torch.nn.Sigmoid())
            elif activation not in ("sigmoid", "softmax"):  # those two: in the loss
                raise _Unsupported(f"no PyTorch form for {activation!r}")
        return torch.nn.Sequential(*layers)

    def _restart(self, workload):
        """The initial weights, and a fresh optimizer (its moments zeroed)."""
        torch = self.torch
        weights, _ = workload.initial_weights()
        dense = [m for m in self.network if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for l, layer in enumerate(dense):
                layer.weight.copy_(torch.from_numpy(weights[2 * l].T.copy()))
                layer.bias.copy_(torch.from_numpy(weights[2 * l + 1]))
        parameters = list(self.network.parameters())
        if workload.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=workload.lr, eps=1e-7, fused=True)
        return torch.optim.SGD(parameters, lr=workload.lr, fused=True)

    def __call__(self, workload, epochs):
        torch = self.torch
        optimizer = self._restart(workload)
        network, loss_function = self.forward, self.loss_function
        n, batch = workload.n_samples, workload.batch_rows
        generator = torch.Generator().manual_seed(0)
        total = torch.zeros((), dtype=torch.float64)
        threads_before = torch.get_num_threads()
        self.threads = _policy_threads(workload)
        torch.set_num_threads(self.threads)
        try:
            start = time.perf_counter()
            for _ in range(epochs):
                X, target = self.X, self.target
                if workload.shuffle:
                    order = torch.randperm(n, generator=generator)
                    X = torch.index_select(self.X, 0, order, out=self.X_shuffled)
                    target = torch.index_select(self.target, 0, order,
                                                out=self.target_shuffled)
                total.zero_()
                for first in range(0, n, batch):
                    optimizer.zero_grad()
                    loss = loss_function(network(X[first:first + batch]),
                                         target[first:first + batch])
                    loss.backward()
                    optimizer.step()
                    total.add_(loss.detach(), alpha=min(batch, n - first))
            elapsed = time.perf_counter() - start
        finally:
            torch.set_num_threads(threads_before)
        return elapsed, np.array([float(total) / n])


# ------------------------------------------------------------------ FANN
class _Connection(ctypes.Structure):
    _fields_ = [("from_neuron", ctypes.c_uint), ("to_neuron", ctypes.c_uint),
                ("weight", ctypes.c_double)]


FANN_SIGMOID, FANN_TRAIN_BATCH, FANN_ERRORFUNC_LINEAR = 3, 1, 0


def _libfann():
    """libdoublefann (FANN with double weights), or None."""
    path = ctypes.util.find_library("doublefann")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.fann_create_standard_array.restype = ctypes.c_void_p
    lib.fann_create_standard_array.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)]
    lib.fann_create_train_from_callback.restype = ctypes.c_void_p
    lib.fann_get_total_connections.argtypes = [ctypes.c_void_p]
    lib.fann_get_connection_array.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Connection)]
    lib.fann_set_weight_array.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Connection),
                                          ctypes.c_uint]
    lib.fann_set_learning_rate.argtypes = [ctypes.c_void_p, ctypes.c_float]
    for name in ("fann_set_activation_function_hidden", "fann_set_activation_function_output",
                 "fann_set_training_algorithm", "fann_set_train_error_function"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.fann_train_on_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint,
                                       ctypes.c_uint, ctypes.c_float]
    lib.fann_get_MSE.restype = ctypes.c_float
    lib.fann_get_MSE.argtypes = [ctypes.c_void_p]
    lib.fann_destroy.argtypes = [ctypes.c_void_p]
    lib.fann_destroy_train.argtypes = [ctypes.c_void_p]
    return lib


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                             ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double))


class FannSide:
    """FANN 2.2's C training loop: full-batch gradient descent on MSE, sigmoid units."""

    name = "fann"

    def __init__(self, workload):
        self.lib = _libfann()
        if self.lib is None:
            raise _Unsupported("libfann not installed (apt-get install libfann-dev)")
        if workload.batch_size is not None:
            raise _Unsupported("FANN trains full batches or single rows only")
        sizes = (ctypes.c_uint * len(workload.sizes))(*workload.sizes)
        self.sizes = workload.sizes
        self.ann = self.lib.fann_create_standard_array(len(workload.sizes), sizes)
        X, Y = workload.X.astype(np.float64), workload.Y.astype(np.float64)

        def fill(row, n_in, n_out, inputs, outputs):
            for k in range(n_in):
                inputs[k] = X[row, k]
            for k in range(n_out):
                outputs[k] = Y[row, k]

        self._fill = _CALLBACK(fill)  # kept alive while FANN may call it
        self.data = self.lib.fann_create_train_from_callback(
            ctypes.c_uint(workload.n_samples), ctypes.c_uint(X.shape[1]),
            ctypes.c_uint(Y.shape[1]), self._fill)
        self.data = ctypes.c_void_p(self.data)
        lib, ann = self.lib, self.ann
        lib.fann_set_activation_function_hidden(ann, FANN_SIGMOID)
        lib.fann_set_activation_function_output(ann, FANN_SIGMOID)
        lib.fann_set_training_algorithm(ann, FANN_TRAIN_BATCH)
        lib.fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR)
        lib.fann_set_learning_rate(ann, workload.lr)
        self.n_connections = lib.fann_get_total_connections(ann)
        self.connections = (_Connection * self.n_connections)()
        lib.fann_get_connection_array(ann, self.connections)
        self.note = "sigmoid hidden units, MSE (FANN 2.2 has no ReLU)" \
            if "relu" in workload.activations or workload.loss != "mse" else ""

    def _set_initial_weights(self, workload):
        weights, _ = workload.initial_weights()
        starts = np.cumsum([0] + [n + 1 for n in self.sizes])  # each layer has a bias neuron
        for connection in self.connections:
            layer = int(np.searchsorted(starts, connection.to_neuron, side="right")) - 1
            i = connection.from_neuron - starts[layer - 1]
            j = connection.to_neuron - starts[layer]
            W, b = weights[2 * (layer - 1)], weights[2 * (layer - 1) + 1]
            connection.weight = float(b[j] if i == W.shape[0] else W[i, j])
        self.lib.fann_set_weight_array(self.ann, self.connections, self.n_connections)

    def __call__(self, workload, epochs):
        self._set_initial_weights(workload)
        start = time.perf_counter()
        self.lib.fann_train_on_data(self.ann, self.data, epochs, 0, 0.0)
        elapsed = time.perf_counter() - start
        return elapsed, np.array([self.lib.fann_get_MSE(self.ann)], np.float64)

    def close(self):
        self.lib.fann_destroy_train(self.data)
        self.lib.fann_destroy(self.ann)


class _Unsupported(Exception):
    """A peer that is not installed or cannot train this workload's network."""


def _make_side(name, workload, directory):
    import importlib.util

    modules = {"jax": "jax", "sklearn": "sklearn", "keras": "keras", "torch": "torch"}
    if name in modules and importlib.util.find_spec(modules[name]) is None:
        raise _Unsupported(f"{modules[name]} not installed")
    if name == "jax":
        return JaxSide(workload)
    if name == "sklearn":
        return SklearnSide(workload)
    if name == "keras":
        return KerasSide(workload, directory)
    if name == "torch":
        return TorchSide(workload)
    return FannSide(workload)


# ------------------------------------------------------------------ the job
def measure_peers(workload, rounds, target_s, pause_s, peers, directory, progress):
    """Interleaved rounds of fastann, the reference and each peer on ``workload``."""
    sides = [("fastann", fastann_round)]
    if _workloads.reference_available() is None:
        sides.append(("reference", reference_round))
    result = {"workload": workload.name, "description": workload.describe(),
              "rows": workload.n_samples, "skipped": {}, "notes": {}}
    opened = []
    try:
        for name in peers:
            try:
                side = _make_side(name, workload, directory)
            except _Unsupported as why:
                result["skipped"][name] = str(why)
                continue
            opened.append(side)
            if getattr(side, "note", ""):
                result["notes"][name] = side.note
            sides.append((name, side))
        epochs = {}
        for name, run in sides:
            progress(f"{workload.name}: {name} warm-up and calibration")
            run(workload, 1)  # compiles (fastann: loads its cache; JAX: jit)
            epochs[name] = calibrate(lambda e, f=run: f(workload, e), target_s)
        times = {name: [] for name, _ in sides}
        for _ in range(rounds):
            for name, run in sides:
                time.sleep(pause_s)
                elapsed, _ = run(workload, epochs[name])
                times[name].append(elapsed)
        for name, run in sides:
            speeds = [epochs[name] / t for t in times[name]]
            result[name] = {"epochs_per_round": epochs[name],
                            "epochs_per_s": statistics.median(speeds), "speeds": speeds}
            if getattr(run, "threads", None) is not None:  # the threads a peer ran on
                result[name]["threads"] = run.threads
        # The losses after the same number of epochs on every side (the timed rounds
        # ran different numbers): the fewest any side ran in a round, and at least
        # LOSS_EPOCHS so that the last loss follows updates.
        common = max(LOSS_EPOCHS, min(epochs.values()))
        result["loss_epochs"] = common
        for name, run in sides:
            result[name]["final_loss"] = _final_loss(run(workload, common)[1])
        for name, _ in sides[1:]:
            result[name]["fastann_over"] = statistics.median(
                ours / theirs for ours, theirs in zip(result["fastann"]["speeds"],
                                                      result[name]["speeds"]))
    finally:
        for side in opened:
            if hasattr(side, "close"):
                side.close()
    return result


def run(settings, names, peers=PEERS, progress=print):
    import tempfile

    from .machine import _cpu_snapshot, _other_cpu, machine_info

    started = _cpu_snapshot()
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "settings": settings.__dict__, "workloads": [], "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="fastann-peers-") as directory:
        for name in names:
            try:
                workload = _workloads.build(name, settings.rows_of(name))
            except _workloads.MissingDependency as error:
                report["skipped"][name] = str(error)
                continue
            progress(f"{name}: {workload.describe()}")
            report["workloads"].append(measure_peers(
                workload, settings.rounds, settings.target_s, settings.pause_s, peers,
                directory, progress))
    report["machine"] = machine_info()
    report["versions"] = _versions()
    report["other_cpu"] = _other_cpu(started, _cpu_snapshot())
    return report


def _versions():
    import importlib.metadata

    found = {}
    for side, package in (("jax", "jax"), ("sklearn", "scikit-learn"), ("keras", "keras"),
                          ("torch", "torch")):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[side] = importlib.metadata.version(package)
    if ctypes.util.find_library("doublefann"):
        found["fann"] = "2.2 (libdoublefann)"
    return found


def format_report(report):
    from .machine import busy_warning, format_machine

    sides = [s for s in ALL_SIDES if any(s in r for r in report["workloads"])]
    lines = [f"fastann bench --peers, {report['date']}, {report['settings']['mode']} mode: "
             f"{report['settings']['rounds']} interleaved rounds, a "
             f"{report['settings']['pause_s']} s pause before each side; epochs/s "
             f"(medians) and fastann's speed over each (median of the rounds' ratios)",
             format_machine(report["machine"]),
             "peers: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items())]
    warning = busy_warning(report)
    if warning:
        lines.append(warning)
    lines.append("")
    header = f"{'workload':<15}" + "".join(f" {s:>20}" for s in sides)
    lines += [header, "-" * len(header)]
    for result in report["workloads"]:
        cells, losses = [], []
        for side in sides:
            if side not in result:
                cells.append(f"{'-':>20}")
                losses.append(f"{'-':>20}")
                continue
            speed = _number(result[side]["epochs_per_s"])
            ratio = result[side].get("fastann_over")
            text = speed if ratio is None else f"{speed} ({_ratio(ratio)})"
            cells.append(f" {text:>20}")
            losses.append(f" {result[side]['final_loss']:>20.4g}")
        lines.append(f"{result['workload']:<15}" + "".join(cells))
        lines.append(f"{'  final loss':<15}" + "".join(losses))
    lines.append("")
    lines.append("(Nx): fastann's epochs/s over that side's. final loss: the training loss "
                 "of the last epoch, every side run for the same epochs (the fewest any "
                 "side ran in a timed round: " + ", ".join(
                     f"{r['workload']} {r['loss_epochs']}" for r in report["workloads"])
                 + ") from the same initial weights; FANN: its MSE.")
    threads = {side: [f"{r['workload']} {r[side]['threads']}" for r in report["workloads"]
                      if side in r and "threads" in r[side]] for side in sides}
    lines += [f"{side} threads (as fastann's thread policy picks for the network and the "
              f"cores free): " + ", ".join(found) for side, found in threads.items() if found]
    lines.append("fastann: BLAS threads by its policy (_blas_threads); JAX, Keras and "
                 "scikit-learn: their defaults")
    for result in report["workloads"]:
        for side, note in result["notes"].items():
            lines.append(f"{result['workload']}, {side}: {note}")
        for side, why in result["skipped"].items():
            lines.append(f"{result['workload']}, {side}: skipped ({why})")
    for name, why in report["skipped"].items():
        lines.append(f"{name}: skipped ({why})")
    return "\n".join(lines)


def _number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _ratio(value):
    return f"{value:,.0f}x" if value >= 10 else f"{value:.2g}x"


def speedup_ratios(report):
    """{workload: {side: epochs/s over the reference's}}, for the bar chart."""
    ratios = {}
    for result in report["workloads"]:
        if "reference" not in result:
            continue
        base = result["reference"]["epochs_per_s"]
        ratios[result["workload"]] = {side: result[side]["epochs_per_s"] / base
                                      for side in ALL_SIDES
                                      if side in result and side != "reference"}
    return ratios


def job(settings, names, options, progress):
    report = run(settings, names, progress=progress)
    print(format_report(report))
    if options.plot:
        from .plots import MATPLOTLIB_MISSING, plot_speedups

        written = plot_speedups(speedup_ratios(report), options.plot,
                                title=f"epochs/s over fastann.reference (NumPy), "
                                f"{report['date']}")
        print(f"plot: {written}" if written else MATPLOTLIB_MISSING)
    return report
