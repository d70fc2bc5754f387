# Imported first so the benchmarks run with the application's own thread defaults.
import fragrance_ai  # noqa: F401
