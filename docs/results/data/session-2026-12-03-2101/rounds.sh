#!/bin/bash
# Issue 16, L = 1024, Eso-LM (B): base (cc51ab4) fp32 against the new build, each configuration alone in its process,
# alternated R rounds (default 4). Batch 16: new = int8a16 weights + bf16 KV cache (and bf16 / bf16 KV for comparison);
# batch 1: new = int8a16 / bf16 KV. B = base CLI, N = new CLI, O = output folder.
B=${B:-/work/wt-base/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
N=${N:-/work/main/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
O=${O:-rounds}; R=${R:-4}; mkdir -p $O; O=$(cd $O && pwd); cd /tmp
run() { local name=$1; shift; echo "== $name $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; "$@" > $O/$name.json 2>>$O/$name.err; echo "   end $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; }
S="bench sample --methods esolm_b --lengths 1024"
for r in $(seq 1 $R); do
  run b16_base$r $B $S --batches 16 --json
  run b16_int8a16_$r $N $S --batches 16 --weights int8a16 --kv-cache bf16 --json
  run b16_bf16_$r $N $S --batches 16 --weights bf16 --kv-cache bf16 --json
done
run b16_base$((R+1)) $B $S --batches 16 --json
for r in $(seq 1 $R); do
  run b1_base$r $B $S --batches 1 --json
  run b1_int8a16_$r $N $S --batches 1 --weights int8a16 --kv-cache bf16 --json
done
run b1_base$((R+1)) $B $S --batches 1 --json
echo done >> $O/log
