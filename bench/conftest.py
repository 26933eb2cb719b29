"""Benchmarks of fastann against ``fastann.reference`` on the workloads of issue 4.

    pytest bench/                        # time both sides: one group per workload
    pytest bench/ --benchmark-disable    # what CI runs: small sizes, correctness only

(With ``--benchmark-disable`` in the project's addopts, ``--benchmark-enable`` measures.)

Each workload's group holds a fastann and a reference benchmark on the same data from
the same initial weights, each round a fixed number of epochs from a fresh start, so
both sides do the same work. Compilation happens in an untimed warm-up. Under
``--benchmark-disable`` the sizes shrink and every test runs once, still checking that
both sides computed the same per-epoch losses.
"""
import pytest

try:
    import pytest_benchmark  # noqa: F401
except ImportError:  # the benchmarks need the bench (or test) extra
    collect_ignore_glob = ["test_*.py"]

from fastann.benchmarks import workloads as _workloads

# name -> (rows, epochs per round). Full size: about 0.3 s per reference round.
FULL_SIZES = {"and_gate": (None, 5000), "perceptron": (None, 5000),
              "keras_tutorial": (None, 100), "digits": (None, 40), "mnist_shape": (None, 1)}
SMALL_SIZES = {"and_gate": (None, 300), "perceptron": (None, 300),
               "keras_tutorial": (200, 4), "digits": (256, 4), "mnist_shape": (512, 3)}

_speeds = pytest.StashKey()


def pytest_configure(config):
    config.stash[_speeds] = {}


@pytest.fixture(scope="session")
def small(pytestconfig):
    """True under --benchmark-disable (unless --benchmark-enable overrides it, as
    pytest-benchmark itself decides): run each benchmark once at small sizes."""
    return bool(pytestconfig.getoption("benchmark_disable", default=False)
                and not pytestconfig.getoption("benchmark_enable", default=False))


@pytest.fixture(scope="session")
def sized_workload(small):
    """name -> (Workload, epochs per round), built once per session."""
    built = {}

    def get(name):
        if name not in built:
            rows, epochs = (SMALL_SIZES if small else FULL_SIZES)[name]
            try:
                built[name] = (_workloads.build(name, rows), epochs)
            except _workloads.MissingDependency as error:
                built[name] = error
        if isinstance(built[name], Exception):
            pytest.skip(str(built[name]))
        return built[name]

    return get


@pytest.fixture(scope="session")
def speeds(pytestconfig):
    """{(workload, side): median epochs/s}, summarised at the end of the run."""
    return pytestconfig.stash[_speeds]


def pytest_terminal_summary(terminalreporter, config):
    speeds = config.stash.get(_speeds, {})
    names = [n for n in _workloads.NAMES if (n, "fastann") in speeds
             and (n, "reference") in speeds]
    if not names:
        return
    terminalreporter.section("fastann / reference (median epochs/s)")
    for name in names:
        fast, reference = speeds[name, "fastann"], speeds[name, "reference"]
        terminalreporter.write_line(f"{name:<15} fastann {fast:>14,.1f}  reference "
                                    f"{reference:>12,.1f}  speed-up {fast / reference:8.1f}x")
