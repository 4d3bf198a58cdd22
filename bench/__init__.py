"""On-demand benchmarks of kubeline's local engine against kfp.local (never run by the
test suite). Start them with ``python bench/run.py``; see ``bench/README.md``."""
