"""NumPy baseline for `npm run bench` (run only by the benchmark, when python3 has numpy).

  python3 numpy_math.py mining DIR   reads candidates.f32 [n, d], ids.f32 [k, d]; writes quantile.f64, max.f64
  python3 numpy_math.py scoring DIR  reads images.f32 [b, d], labels.f32 [K+M, d], groups.i32 [M]; writes score.f64
Prints {"seconds": …} for the timed part only (file I/O excluded).
"""
import json
import sys
import time

import numpy as np

mode, folder = sys.argv[1], sys.argv[2]
meta = json.load(open(f'{folder}/meta.json'))
d = meta['dim']
if mode == 'mining':
    c = np.fromfile(f'{folder}/candidates.f32', dtype=np.float32).reshape(-1, d)
    ids = np.fromfile(f'{folder}/ids.f32', dtype=np.float32).reshape(-1, d)
    start = time.perf_counter()
    s = c @ ids.T
    q = np.quantile(s, meta['percentile'], axis=1)
    m = s.max(axis=1)
    seconds = time.perf_counter() - start
    q.astype(np.float64).tofile(f'{folder}/quantile.f64')
    m.astype(np.float64).tofile(f'{folder}/max.f64')
else:
    x = np.fromfile(f'{folder}/images.f32', dtype=np.float32).reshape(-1, d)
    labels = np.fromfile(f'{folder}/labels.f32', dtype=np.float32).reshape(-1, d)
    groups = np.fromfile(f'{folder}/groups.i32', dtype=np.int32)
    k, g = meta['idCount'], meta['groupCount']
    order = np.argsort(groups, kind='stable')
    start = time.perf_counter()
    z = 100.0 * (x @ labels.T).astype(np.float64)
    zid, zneg = z[:, :k], z[:, k:][:, order].reshape(len(x), g, -1)
    lse_id = np.logaddexp.reduce(zid, axis=1)
    lse_neg = np.logaddexp.reduce(zneg, axis=2)
    score = (1.0 / (1.0 + np.exp(-(lse_id[:, None] - lse_neg)))).mean(axis=1)
    seconds = time.perf_counter() - start
    score.tofile(f'{folder}/score.f64')
print(json.dumps({'seconds': seconds}))
