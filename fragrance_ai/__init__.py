"""Fragrance AI: from a perfumer's brief to safe, costed formula options."""

import os

# NumPy's OpenBLAS starts a thread per core for every matrix product. Ours are small (a
# population of tens of formulas by a few hundred materials): on 2 cores the threads only
# spin, doubling CPU time for the same wall time (bench.optimize). One thread unless the
# operator says otherwise; set here, before anything imports NumPy. Torch has its own pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
