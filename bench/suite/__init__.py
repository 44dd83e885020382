"""The platform benchmark's sections, one concern a module; `bench/bench_platform.py` runs them."""
