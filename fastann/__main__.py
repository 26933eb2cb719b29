"""The ``fastann`` command.

    fastann bench [--quick] [--json PATH] [--peers] [--contention] [--sklearn] [--scaling] ...
    fastann --version

``fastann bench --help`` lists the options (``python -m fastann.benchmarks`` is the
same). The benchmarks live in ``fastann.benchmarks``, which ``import fastann`` does not
load.
"""
import sys

COMMANDS = {"bench": "time fastann against its NumPy reference and its peers "
                     "(fastann bench --help)"}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: fastann COMMAND [options]\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:<8} {text}")
        print("  --version  print fastann's version")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"fastann {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"fastann: unknown command {command!r}; expected one of "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from .benchmarks import cli

    return cli.main(rest, prog="fastann bench")


if __name__ == "__main__":
    sys.exit(main())
