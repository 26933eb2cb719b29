"""Keras' ``keras.models``: the model classes and rebuilding a model from JSON or a file."""
import json

from .model import Model, Sequential
from .saving import load_model

__all__ = ["Model", "Sequential", "model_from_json", "load_model", "clone_model"]


def model_from_json(json_string):
    """An untrained model from ``model.to_json()``'s string (weights drawn from the
    config's seed, as the original's first were)."""
    if not isinstance(json_string, str):
        raise TypeError(f"model_from_json expects a str; got {type(json_string).__name__}")
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as error:
        raise ValueError(f"model_from_json: not valid JSON ({error})") from None
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
