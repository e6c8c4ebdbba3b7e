"""The user's tools around the compiler: the command line (:mod:`.cli`),
:func:`eqsnn.compare` (:mod:`.comparison`, :mod:`.comparison_plot`) and
:func:`eqsnn.benchmark` (:mod:`.benchmarking`).
"""
