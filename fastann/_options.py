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
