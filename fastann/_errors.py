"""The error raised for Keras features fastann does not have."""


class NotSupportedError(ValueError, NotImplementedError):
    """A Keras feature fastann does not support (a convolution, the functional API, a
    callable loss, an unknown ``compile`` argument, ...). A ValueError, as fastann's
    other input errors, and a NotImplementedError, since Keras has it."""

    def __init__(self, feature, hint=""):
        message = f"fastann does not support {feature}"
        super().__init__(message + (f". {hint}" if hint else ""))
