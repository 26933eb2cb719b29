"""The dense-path rules' vector width comes from the CPU the kernels are compiled for."""
import numba
import pytest

from fastann.kernels import _cpu, dense


@pytest.mark.parametrize("features, expected", [
    ({"sse2", "avx", "avx2", "fma", "avx512f"}, 64),
    ({"sse2", "avx", "avx2", "fma"}, 32),
    ({"sse2", "avx"}, 32),
    ({"sse2"}, 16),
    (set(), 16),
])
def test_vector_bytes_by_instruction_set(features, expected):
    assert _cpu.vector_bytes(features) == expected


def test_numba_cpu_features_override_the_host(monkeypatch):
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+sse2,+avx,+avx2,+avx512f,-avx512bw")
    assert _cpu.vector_bytes() == 64
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+sse2,-avx,-avx2")
    assert _cpu.vector_bytes() == 16


def test_the_host_agrees_with_proc_cpuinfo():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next(set(line.split(":", 1)[1].split()) for line in cpuinfo
                         if line.startswith("flags"))
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags")
    if numba.config.CPU_FEATURES or numba.config.CPU_NAME:
        pytest.skip("Numba targets another CPU here")
    assert dense.VECTOR_BYTES == _cpu.vector_bytes(flags)
