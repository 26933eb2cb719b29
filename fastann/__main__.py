"""The ``fastann`` command.

    fastann bench [--quick] [--json PATH] [--scaling] ...
    fastann --version

``fastann bench --help`` lists the options (``python -m fastann.bench`` is the same).
"""
import sys

COMMANDS = {"bench": "time fastann against its NumPy reference (fastann bench --help)"}


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
    from . import bench

    return bench.main(rest, prog="fastann bench")


if __name__ == "__main__":
    sys.exit(main())
