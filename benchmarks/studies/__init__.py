"""Training studies (depth, time budgets, training histories, per-camera fine-tuning) and the
error-band analysis: each writes its own page under docs/, outside docs/benchmarks.md."""
