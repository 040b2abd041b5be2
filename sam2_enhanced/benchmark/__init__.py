"""``sam2e bench``: speed and memory of our predictor against upstream SAM 2, side by side.

- :mod:`~sam2_enhanced.benchmark.run`: arguments, the synthetic videos, the run over all cases
  and :func:`~sam2_enhanced.benchmark.run.main`;
- :mod:`~sam2_enhanced.benchmark.cases`: one case (method, objects, frames) in its own process,
  stage timers, bytes held by a state;
- :mod:`~sam2_enhanced.benchmark.report`: the markdown tables.

Sits beside :mod:`sam2_enhanced.cli` at the top: it builds predictors; nothing imports it back.
"""
