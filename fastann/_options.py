"""Looking names up in fastann's option tables, with errors that list the valid names."""


def lookup(table, name, what):
    """``table[name]`` (case-insensitive), or a ValueError naming the valid choices."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a name (str); got {type(name).__name__} {name!r}")
    try:
        return table[name.lower()]
    except KeyError:
        valid = ", ".join(repr(n) for n in sorted(table))
        raise ValueError(f"unknown {what} {name!r}; expected one of {valid}") from None


class Configured:
    """Equality, hashing and repr from ``get_config()``: option objects (initializers,
    regularizers, losses) are values, equal when their settings are."""

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
