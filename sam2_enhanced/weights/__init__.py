"""Weights: the builders' layer that puts numbers into a model built by :mod:`sam2_enhanced.build`.

- :mod:`~sam2_enhanced.weights.checkpoint`: ``save_pretrained`` / ``load_pretrained`` (a folder
  of ``config.yaml`` + ``model.safetensors``, the bundled default or a Hub id) and
  ``load_weights``;
- :mod:`~sam2_enhanced.weights.sam2`: official SAM 2.1 checkpoints -> the SAM-derived parts;
- :mod:`~sam2_enhanced.weights.components`: ``from_components``, a model from a config with real
  DINOv2 weights (converted by :mod:`sam2_enhanced.modeling.dinov2_weights`, which ``build`` also
  uses for ``encoder.pretrained``) and SAM 2.1 weights filled in.

Import direction: this layer sits above :mod:`sam2_enhanced.build` (``checkpoint``, ``sam2`` and
``components`` use ``build_model``; ``build`` never imports from here). Nothing here imports the
predictor or the command line. This file imports nothing, so importing one
submodule never pulls in the others.
"""
