"""Synthetic embryo rendering speed on one core (target: >= 100 images/s at 256x256).

    python benchmarks/synth_speed.py [--size 256] [--n 300]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edgegrade.synth import render_embryo  # noqa: E402

cv2.setNumThreads(1)
p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--n", type=int, default=300)
a = p.parse_args()
render_embryo(np.random.default_rng(0), a.size)  # warm-up
t = time.perf_counter()
for i in range(a.n):
    render_embryo(np.random.default_rng([1, i]), a.size)
dt = time.perf_counter() - t
print(f"{a.n} synthetic embryos at {a.size}x{a.size} on one core: {a.n / dt:.0f} images/s ({1000 * dt / a.n:.1f} ms each)")
