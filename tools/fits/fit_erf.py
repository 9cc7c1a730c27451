#!/usr/bin/python3
"""Least-squares fits behind Tessera's float32 erf (src/Tessera/Kernels/FastErf.cs). Prints the coefficients.

  |x| < 1:      erf(x) = x * P(x^2),                       P of degree 6
  1 <= |x| < 4: erf(x) = 1 - exp(-x^2) * Q(1 / (1 + x/2)),  Q of degree 7  (erfc(x) e^(x^2) is smooth in t)
  |x| >= 4:     erf(x) rounds to +-1 in float32.
Fitted on dense grids in double precision with Python's math.erf/erfc as the reference; prints the largest relative
error of each piece (both far below float32's 6e-8 rounding step).
"""
import math
import numpy as np

x1 = np.linspace(1e-6, 1.0, 20001)
p = np.polynomial.polynomial.polyfit(x1 ** 2, [math.erf(x) / x for x in x1], 6)
ref1 = np.array([math.erf(x) for x in x1])
print("P", ", ".join(f"{c:.17g}" for c in p))
print("  max rel error", np.max(np.abs(x1 * np.polynomial.polynomial.polyval(x1 ** 2, p) - ref1) / ref1))

x2 = np.linspace(1.0, 4.0, 30001)
t = 1 / (1 + 0.5 * x2)
q = np.polynomial.polynomial.polyfit(t, [math.erfc(x) * math.exp(x * x) for x in x2], 7)
ref2 = np.array([math.erf(x) for x in x2])
print("Q", ", ".join(f"{c:.17g}" for c in q))
print("  max rel error", np.max(np.abs(1 - np.exp(-x2 ** 2) * np.polynomial.polynomial.polyval(t, q) - ref2) / ref2))
