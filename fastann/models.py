"""Keras' ``keras.models``: the model classes and rebuilding a model from JSON or a file."""
import json

from ._errors import NotSupportedError
from .model import Model, Sequential
from .saving import load_model

__all__ = ["Model", "Sequential", "model_from_json", "load_model", "clone_model"]


def model_from_json(json_string, custom_objects=None):
    """An untrained model from ``model.to_json()``'s string (weights drawn from the
    config's seed, as the original's first were), or from a Keras Sequential's
    ``to_json()`` (Keras' own layers; weights drawn afresh)."""
    if not isinstance(json_string, str):
        raise TypeError(f"model_from_json expects a str; got {type(json_string).__name__}")
    if custom_objects:
        raise NotSupportedError("custom_objects: fastann builds its own layers only")
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as error:
        raise ValueError(f"model_from_json: not valid JSON ({error})") from None
    if isinstance(data, dict) and "module" in data:  # Keras' to_json
        from .export.keras_file import model_from_keras_config
        return model_from_keras_config(data)
    if not isinstance(data, dict) or set(data) != {"class_name", "config"}:
        raise ValueError("model_from_json expects {'class_name': 'Sequential', 'config': "
                         "{...}} as model.to_json() writes it")
    if data["class_name"] not in ("Sequential", "Model"):
        raise ValueError(f"model_from_json: class_name must be 'Sequential'; got "
                         f"{data['class_name']!r}")
    cls = Sequential if data["class_name"] == "Sequential" else Model
    return cls.from_config(data["config"])


def clone_model(model):
    """A new, untrained model of the same architecture, dtype and seed (Keras'
    ``clone_model``: weights are not copied)."""
    if not isinstance(model, Model):
        raise TypeError(f"clone_model expects a fastann model; got {type(model).__name__}")
    return type(model).from_config(model.get_config())
