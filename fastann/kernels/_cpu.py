"""What the CPU the kernels are compiled for can do, read at run time: the width of its
vector registers, which the dense-path rules (``dense.py``) compare row lengths with.

The features are Numba's target features: ``NUMBA_CPU_FEATURES`` when set (a cache
built for another CPU, or a portable ``NUMBA_CPU_NAME=generic`` build), else the host's
as LLVM reads them (llvmlite's public ``get_host_cpu_features``), else /proc/cpuinfo's
flags. Numba keys its cache on the CPU, so kernels compiled with one width are not
loaded on a machine of another.
"""
import numba

# bytes of a vector register by the widest instruction set present
VECTOR_WIDTHS = (("avx512f", 64), ("avx", 32), ("sse2", 16))


def cpu_features():
    """The set of feature names the kernels are compiled for ("avx2", "avx512f", ...)."""
    if numba.config.CPU_FEATURES:
        return {f[1:] for f in numba.config.CPU_FEATURES.split(",") if f.startswith("+")}
    if numba.config.CPU_NAME == "generic":
        return {"sse2"}
    try:
        import llvmlite.binding as llvm

        return {name for name, present in llvm.get_host_cpu_features().items() if present}
    except (ImportError, RuntimeError, AttributeError):
        pass
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def vector_bytes(features=None):
    """Bytes of the widest vector register among ``features`` (default: this CPU's):
    64 with AVX-512, 32 with AVX/AVX2, else 16 (SSE2, the x86-64 baseline, and what
    LLVM vectorises with on most other CPUs)."""
    features = cpu_features() if features is None else features
    return next((width for name, width in VECTOR_WIDTHS if name in features), 16)
