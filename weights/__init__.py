"""Bundled model weights (safetensors); see README.md here for the model card."""
