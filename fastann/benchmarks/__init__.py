"""``fastann bench``'s jobs, one module each; ``import fastann`` does not load them.

- ``workloads``: the five benchmark workloads (data, network, training), defined once.
- ``machine``: the machine line (CPU, vector ISA, cores, load, BLAS) and busy checks.
- ``peak``: the float32 GEMM peak.  ``products``: mnist_shape's matrix products alone.
- ``rounds``: interleaved timed rounds, shared by the jobs.
- ``table``: the workloads against ``fastann.reference`` (the default job).
- ``compile_probes``: cold and cached start in fresh processes.
- ``crossovers``: every dense path against its rules.  ``scaling``: epoch time curves.
- ``peers``: against JAX, scikit-learn, Keras 3, PyTorch and FANN where installed.
- ``contention``: epochs/s idle, beside a busy process, and two trainings side by side.
- ``sklearn_speed``: fastann.sklearn against scikit-learn's MLPs (``--sklearn``).
- ``plots``: the pictures.  ``cli``: the command line (``JOBS``: option -> module).
"""
