"""The data the benchmarks and the bundled model use: ``python -m benchmarks.datasets.prepare``
builds data/ (gitignored) from Debian packages and scikit-image; manifest.json lists its files."""
