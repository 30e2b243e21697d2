"""Restoration engines: a model run over frames, batched and tiled.

tiling.py holds the batching and tiling every engine shares (``TiledRestorer``); torchengine.py
runs a model with PyTorch (CPU or CUDA), ortengine.py its ONNX export with ONNX Runtime (no
torch), identity.py is the x1 "no network" model; choose.py picks one by device, precision and
what is installed (``make_restorer``); export.py writes the ONNX files (fp32, int8).
Nothing here is imported by ``import srcodec.engines``: torch and onnxruntime load on use.
"""
