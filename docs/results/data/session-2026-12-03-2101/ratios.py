#!/usr/bin/env python3
"""Prints each new run's seconds per sample and its ratio to the mean of the base runs just before and after it."""
import json, re, sys, os
folder = sys.argv[1] if len(sys.argv) > 1 else "rounds"
log = open(os.path.join(folder, "log")).read()
order = re.findall(r"^== (\S+)", log, re.M)
def sec(name):
    try:
        d = json.load(open(os.path.join(folder, name + ".json")))
    except Exception:
        return None
    r = d["rows"][0]
    return r["seconds"]  # already per sample
for prefix in ("b16", "b1"):
    names = [n for n in order if n.startswith(prefix + "_")]
    for i, n in enumerate(names):
        if "base" in n:
            continue
        before = next((names[j] for j in range(i - 1, -1, -1) if "base" in names[j]), None)
        after = next((names[j] for j in range(i + 1, len(names)) if "base" in names[j]), None)
        s, b0, b1 = sec(n), sec(before) if before else None, sec(after) if after else None
        if s is None or b0 is None or b1 is None:
            print(f"{n}: incomplete")
            continue
        base = (b0 + b1) / 2
        print(f"{n:16s} {s:.3f} s/sample   base {b0:.3f} / {b1:.3f}   ratio {base / s:.2f}x")
