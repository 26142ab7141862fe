#!/usr/bin/env python3
"""Seconds per sample of every format in final/, and the ratio to the mean of the base runs before and after."""
import json, os, sys
f = sys.argv[1] if len(sys.argv) > 1 else "final"
def rows(name):
    return json.load(open(os.path.join(f, name + ".json")))["rows"]
def base(name):
    return rows(name)[0]["seconds"]
for tag, batch, pairs in (("s16", 16, [("s16_base1", "s16_new1", "s16_base2"), ("s16_base2", "s16_new2", "s16_base3")]),
                          ("s1", 1, [("s1_base1", "s1_new1", "s1_base2"), ("s1_base2", "s1_new2", "s1_base3")])):
    for i, (b0, n, b1) in enumerate(pairs, 1):
        mean = (base(b0) + base(b1)) / 2
        cells = [f"{r['weights']}/{r['kv_cache']} {r['seconds']:.3f} ({mean / r['seconds']:.2f}x)" for r in rows(n)]
        print(f"L=1024 batch {batch} round {i}: base {base(b0):.3f}/{base(b1):.3f} | " + " | ".join(cells))
b = {(r["batch"]): r["seconds"] for r in rows("l256_base")}
for r in rows("l256_new"):
    print(f"L=256 batch {r['batch']}: {r['weights']}/{r['kv_cache']} {r['seconds']:.3f} (base {b[r['batch']]:.3f}, {b[r['batch']] / r['seconds']:.2f}x)")
for r in rows("s16_prof"):
    ph = r.get("phase_seconds_per_sample", {})
    print(f"profile {r['weights']}/{r['kv_cache']}: {r['seconds']:.3f} s/sample; " + ", ".join(f"{k} {v:.3f}" for k, v in ph.items()))
