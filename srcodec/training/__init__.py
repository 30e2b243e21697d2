"""Training and adapting models: trainer.py trains or fine-tunes a model of any family
(config.py: ``TrainConfig``, torch-free), degrade.py makes codec-in-the-loop training pairs,
bf16.py the bfloat16 autocast, adapt.py tunes a model to one scene and writes the update an
archive carries (srcodec.models.update). Torch is imported on first use, not by this package.
"""

from __future__ import annotations

# srcodec 0.1's module srcodec.training (now trainer.py): its public names resolve here, on use
# (torch is imported then).


def __getattr__(name: str):
    if not name.startswith("_"):
        from importlib import import_module

        found = getattr(import_module(".trainer", __name__), name, None)
        if found is not None:
            return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
