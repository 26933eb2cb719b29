"""The error raised for Keras features fastann does not have, and the two places it is
raised from everywhere: a Keras name a namespace lacks, and a Python callable where
fastann needs one of its own compiled options."""


class NotSupportedError(ValueError, NotImplementedError):
    """A Keras feature fastann does not support (a convolution, the functional API, a
    callable loss, an unknown ``compile`` argument, ...). A ValueError, as fastann's
    other input errors, and a NotImplementedError, since Keras has it."""

    def __init__(self, feature, hint=""):
        message = f"fastann does not support {feature}"
        super().__init__(message + (f". {hint}" if hint else ""))


def keras_only(module, kind, names, hint):
    """A module ``__getattr__``: the Keras ``names`` fastann lacks raise NotSupportedError
    ("the Keras {kind} {name}", then ``hint``); any other missing name is the usual
    AttributeError.

    Not an AttributeError itself, so that ``from fastann.layers import Conv2D`` keeps
    the message (Python turns an AttributeError there into a bare ImportError); the
    price is that ``hasattr(fastann.layers, "Conv2D")`` raises instead of answering
    False.
    """

    def __getattr__(name):
        if name in names:
            raise NotSupportedError(f"the Keras {kind} {name}", hint)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


KERAS_MODULES = ("keras", "tf_keras")  # where Keras' own functions live


def callable_refused(value, what, valid):
    """The NotSupportedError for a Python callable given as a ``what`` (a loss, an
    activation, ...): fastann runs its own compiled options only."""
    name = getattr(value, "__name__", None) or type(value).__name__
    return NotSupportedError(f"a callable {what} ({name})",
                             f"fastann runs its own compiled ones only, so name a built-in "
                             f"one: {valid}")


def builtin_name(value, table, what):
    """The name under which ``table`` knows ``value``, a Keras function such as
    ``keras.activations.relu`` or ``keras.losses.mean_squared_error`` (fastann runs its
    own compiled version of it); any other Python callable is refused."""
    name = getattr(value, "__name__", None)
    module = getattr(value, "__module__", None) or ""
    if module.split(".")[0] in KERAS_MODULES and name in table:
        return name
    raise callable_refused(value, what, sorted(key for key in table if isinstance(key, str)))


def require_default(owner, option, value, default, hint=None):
    """``default``, when ``value`` is it: a Keras argument fastann has only at its
    default (Keras' spelling runs); any other value raises NotSupportedError naming
    ``option`` (and ``owner``, the class or function, when given), with ``hint`` or
    "leave it at its default"."""
    try:
        same = value is default or (default is not None and bool(value == default))
    except (TypeError, ValueError):  # an array, or a value that does not compare
        same = False
    if not same:
        where = f" in {owner}" if owner else ""
        raise NotSupportedError(f"{option}={value!r}{where}",
                                hint or f"leave it at its default, {default!r}")
    return default
