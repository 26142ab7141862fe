#!/bin/bash
# Quiet end-of-session rerun: base (cc51ab4) vs final main, alternated. Output: $(dirname "$0")/out/
B=${B:?path of the base build (cc51ab4) EsoLM.Cli}
N=${N:?path of the new build EsoLM.Cli}
O=$(cd "$(dirname "$0")" && pwd)/out; mkdir -p $O; cd /tmp
run() { local name=$1; shift; echo "== $name $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; "$@" > $O/$name.json 2>>$O/$name.err; echo "   end $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; }
run s16_base1 $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
run s16_new1  $N bench sample --methods esolm_b --lengths 1024 --batches 16 --weights fp32,bf16 --kv-cache fp32,bf16 --json
run s16_base2 $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
run s16_new2  $N bench sample --methods esolm_b --lengths 1024 --batches 16 --weights fp32,bf16 --kv-cache fp32,bf16 --json
run s1_base1  $B bench sample --methods esolm_b --lengths 1024 --batches 1 --json
run s1_new1   $N bench sample --methods esolm_b --lengths 1024 --batches 1 --weights fp32,bf16,int8 --kv-cache fp32,bf16 --json
run s1_base2  $B bench sample --methods esolm_b --lengths 1024 --batches 1 --json
run t_base1   $B bench train --steps 5 --json
run t_new1    $N bench train --steps 5 --json
run t_base2   $B bench train --steps 5 --json
run t_new2    $N bench train --steps 5 --json
run t_new384  $N bench train --layers 6 --hidden 384 --heads 6 --steps 3 --json
run s16_prof  $N bench sample --methods esolm_b --lengths 1024 --batches 16 --kv-cache fp32,bf16 --profile --json
run kernels   $N bench kernels --no-forward --json
echo done >> $O/log
