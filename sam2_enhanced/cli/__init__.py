"""The ``sam2e`` command line (also ``python -m sam2_enhanced``): the top layer of the package.

- :mod:`~sam2_enhanced.cli.sam2e`: argument parsing, dispatch, error messages, :func:`main`;
- :mod:`~sam2_enhanced.cli.track`: ``sam2e track`` (prompts, tracking loop, output files);
- :mod:`~sam2_enhanced.cli.demo`: ``sam2e demo`` (a generated clip tracked by the bundled model);
- :mod:`~sam2_enhanced.cli.evaluate`: ``sam2e eval`` (SOT / MOT / VOS against baselines);
- ``sam2e bench`` is :mod:`sam2_enhanced.benchmark.run`.

Everything here may import the predictor and the layers below it; nothing below imports this.
"""

from sam2_enhanced.cli.sam2e import main

__all__ = ["main"]
