"""fastann: fully-connected neural networks trained by compiled CPU kernels.

    import fastann as fa
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")],
                     input_dim=2, dtype="float64", seed=42)
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.1))
    history = model.fit(X, y, epochs=10_000, batch_size=None)
"""
from . import schedules
from .callbacks import Callback, EarlyStopping, History, ModelCheckpoint, ReduceLROnPlateau
from .layers import Activation, BatchNormalization, Dense, Dropout
from .model import Model
from .optimizers import SGD, Adam, RMSprop
from .saving import load_model

__version__ = "0.1.0"

__all__ = ["Model", "Dense", "Activation", "Dropout", "BatchNormalization", "SGD", "Adam",
           "RMSprop", "Callback", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "schedules", "load_model"]
