"""The benchmarks of docs/benchmarks.md, one module each; every public module here registers
itself with ``@benchmark`` (helpers private to the suite start with an underscore)."""
