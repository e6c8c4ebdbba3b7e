"""The embedded Runge–Kutta pairs of the adaptive method (:mod:`eqsnn.solve.adaptive`).

Each is given by its nodes ``C``, stage weights ``A`` (row ``s``: the weights of the
stages before stage ``s``), higher-order weights ``B`` and error weights ``E`` (the
higher- minus the lower-order weights), as exact rationals; ``bench/adaptive_pairs.py``
compares them with pairs of fewer stages.
"""

from __future__ import annotations

from sympy import Rational as R

__all__ = ["CASH_KARP", "CK_A", "CK_B", "CK_C", "CK_E", "DP_A", "DP_B", "DP_C", "DP_E"]

# Dormand & Prince (1980), RK5(4)7M: nodes, stage weights, fifth-order weights, error weights
DP_C = (0, R(1, 5), R(3, 10), R(4, 5), R(8, 9), 1, 1)
DP_A = (
    (),
    (R(1, 5),),
    (R(3, 40), R(9, 40)),
    (R(44, 45), R(-56, 15), R(32, 9)),
    (R(19372, 6561), R(-25360, 2187), R(64448, 6561), R(-212, 729)),
    (R(9017, 3168), R(-355, 33), R(46732, 5247), R(49, 176), R(-5103, 18656)),
)
DP_B = (R(35, 384), 0, R(500, 1113), R(125, 192), R(-2187, 6784), R(11, 84))
DP_E = (R(71, 57600), 0, R(-71, 16695), R(71, 1920), R(-17253, 339200), R(22, 525), R(-1, 40))
# Cash & Karp (1990), RK5(4) with six stages, for the whole-step try (no stage at the end:
# one evaluation fewer than Dormand–Prince's seven): nodes, stage weights, fifth-order
# weights, and error weights (fifth- minus fourth-order weights)
CK_C = (0, R(1, 5), R(3, 10), R(3, 5), 1, R(7, 8))
CK_A = (
    (),
    (R(1, 5),),
    (R(3, 40), R(9, 40)),
    (R(3, 10), R(-9, 10), R(6, 5)),
    (R(-11, 54), R(5, 2), R(-70, 27), R(35, 27)),
    (R(1631, 55296), R(175, 512), R(575, 13824), R(44275, 110592), R(253, 4096)),
)
CK_B = (R(37, 378), 0, R(250, 621), R(125, 594), 0, R(512, 1771))
CK_E = tuple(b - b4 for b, b4 in zip(CK_B, (R(2825, 27648), 0, R(18575, 48384),
                                               R(13525, 55296), R(277, 14336), R(1, 4))))
CASH_KARP = (CK_A, CK_B, CK_C, False)  # no stage at the end of the substep
