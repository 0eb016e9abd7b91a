"""Stage 3, the `aggregate`, `calibration` and `plot_*` rules: what finished runs measured.

`runs` reads finished runs (`RunSet`, one run group per backbone and variant); `metrics` seed statistics,
intervals and tests; `calibration` calibration before and after temperature scaling; `plots` the figures;
`proportions` binomial intervals (Wilson, Jeffreys) and MOVER; `crossed` intervals for rates measured with seeds
crossed with clusters (the failure modes' and the behavioural tests').
"""
