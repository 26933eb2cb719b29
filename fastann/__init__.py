"""fastann: fully-connected neural networks trained by compiled CPU kernels, behind
Keras 3's API. A Keras program changes only its imports::

    import fastann as keras
    from fastann import layers

    model = keras.Sequential([layers.Dense(64, activation="relu", input_shape=(2,)),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(X, y, epochs=25, batch_size=32, validation_split=0.2)
    loss, accuracy = model.evaluate(X_test, y_test)
    probabilities = model.predict(X_test)

``fastann.Model(layers, input_dim=..., dtype=..., seed=...)`` is the same class with
fastann's own keywords first.
"""
from . import (activations, backend, callbacks, initializers, layers, losses, metrics, models,
               optimizers, schedules, utils)
from ._errors import NotSupportedError, keras_only as _keras_only
from .callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, History,
                        LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                        ReduceLROnPlateau, TerminateOnNaN)
from .layers import Activation, BatchNormalization, Dense, Dropout, Flatten, Input, InputLayer
from .model import Model, Sequential
from .optimizers import SGD, Adam, RMSprop
from .plotting import plot_history
from .saving import load_model
from .export import keras_file as _keras_file  # noqa: F401 (registers the .keras writer)

__version__ = "0.1.0"

__all__ = ["Model", "Sequential", "Input", "InputLayer", "Dense", "Flatten", "Activation", "Dropout",
           "BatchNormalization", "SGD", "Adam",
           "RMSprop", "Callback", "History", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LearningRateScheduler",
           "LambdaCallback", "BackupAndRestore", "NotSupportedError", "load_model",
           "activations", "backend", "callbacks", "initializers", "layers", "losses",
           "metrics", "models", "optimizers", "schedules", "utils", "plot_history"]

# Keras' top-level names fastann does not have (its namespaces and classes for custom
# layers, tensors and devices): each raises NotSupportedError, as ``fastann.ops.sum``
# or ``from fastann import datasets`` would otherwise be a bare AttributeError.
KERAS_ONLY = frozenset("""
DTypePolicy FloatDTypePolicy Function Initializer InputSpec KerasTensor Layer Loss Metric
Operation Optimizer Quantizer Regularizer RematScope StatelessScope SymbolicScope Variable
applications config constraints datasets device distillation distribution dtype_policies
legacy mixed_precision name_scope ops preprocessing quantizers random remat tree version
visualization wrappers
""".split())
__getattr__ = _keras_only(__name__, "API", KERAS_ONLY,
                          "fastann has Keras' Sequential API for fully-connected networks: "
                          "see fastann.__all__")
