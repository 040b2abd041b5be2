"""Weights: the builders' layer that puts numbers into a model built by :mod:`sam2_enhanced.build`.

- :mod:`~sam2_enhanced.weights.checkpoint`: ``save_pretrained`` / ``load_pretrained`` (a folder
  of ``config.yaml`` + ``model.safetensors``, the bundled default or a Hub id) and
  ``load_weights``;
- :mod:`~sam2_enhanced.weights.dinov2`: real DINOv2 checkpoints -> the encoder's ViT (key
  conversion, position-embedding resize);
- :mod:`~sam2_enhanced.weights.sam2`: official SAM 2.1 checkpoints -> the SAM-derived parts;
- :mod:`~sam2_enhanced.weights.components`: ``from_components``, a model from a config with both
  of the above filled in.

Import direction: ``dinov2`` needs only ``transformers`` (``build`` uses it for
``encoder.pretrained``); ``checkpoint``, ``sam2`` and ``components`` use ``build``. Nothing here
imports the predictor or the command line. This file imports nothing, so importing one
submodule never pulls in the others.
"""
