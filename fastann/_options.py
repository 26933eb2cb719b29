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
    """Option objects (initializers, regularizers, losses) as values: ``get_config()`` is
    their ``_fields``, ``from_config`` rebuilds them (refusing unknown keys, skipping the
    Keras keys in ``_ignored_keys``), and equality, hashing and repr follow the config."""

    _fields = ()
    _ignored_keys = frozenset()  # Keras config keys that carry nothing fastann uses

    def get_config(self):
        """{argument: value}: ``type(self).from_config`` makes an equal object."""
        return {field: getattr(self, field) for field in self._fields}

    @classmethod
    def from_config(cls, config):
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict; got "
                            f"{type(config).__name__}")
        unknown = sorted(set(config) - set(cls._fields) - cls._ignored_keys, key=str)
        if unknown:
            raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                             f"{list(cls._fields)}")
        return cls(**{k: v for k, v in config.items() if k in cls._fields})

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
