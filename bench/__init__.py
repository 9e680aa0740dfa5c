"""The scale benchmark (issue 7): ``python -m bench.run --scale small|full``; see docs/benchmarks.md."""
