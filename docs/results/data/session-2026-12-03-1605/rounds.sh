#!/bin/bash
# Batch 16, L 1024: base fp32 and new bf16 weights + bf16 KV cache, alternated for R rounds (default 4).
B=${B:-/work/wt-base/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
N=${N:-/work/main/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
O=${O:-/work/m4/rounds}; R=${R:-4}; mkdir -p $O; cd /tmp
run() { local name=$1; shift; echo "== $name $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; "$@" > $O/$name.json 2>>$O/$name.err; echo "   end $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; }
for r in $(seq 1 $R); do
  run base$r $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
  run new$r  $N bench sample --methods esolm_b --lengths 1024 --batches 16 --weights bf16 --kv-cache bf16 --json
done
run base$((R+1)) $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
echo done >> $O/log
