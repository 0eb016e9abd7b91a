"""Stage 3, the `aggregate`, `calibration` and `plot_*` rules: what finished runs measured.

`runs` reads finished runs (`RunSet`, one run group per backbone and variant); `metrics` seed statistics,
intervals and tests; `calibration` calibration before and after temperature scaling; `plots` the figures.
"""
