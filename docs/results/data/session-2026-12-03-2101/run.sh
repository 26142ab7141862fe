#!/bin/bash
# Issue 16 end-of-session run (2026-12-03, from 21:25 UTC): base (cc51ab4) against new (main), alternated; every format. B=base CLI, N=new CLI, O=output folder.
B=${B:-/work/wt-base/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
N=${N:-/work/main/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli}
O=${O:-final}; mkdir -p $O; O=$(cd $O && pwd); cd /tmp
run() { local name=$1; shift; echo "== $name $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; "$@" > $O/$name.json 2>>$O/$name.err; echo "   end $(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/log; }
ALL="--weights fp32,bf16,int8,int8a16 --kv-cache fp32,bf16"
run s16_base1 $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
run s16_new1  $N bench sample --methods esolm_b --lengths 1024 --batches 16 $ALL --json
run s16_base2 $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
run s16_new2  $N bench sample --methods esolm_b --lengths 1024 --batches 16 $ALL --json
run s16_base3 $B bench sample --methods esolm_b --lengths 1024 --batches 16 --json
run s1_base1  $B bench sample --methods esolm_b --lengths 1024 --batches 1 --json
run s1_new1   $N bench sample --methods esolm_b --lengths 1024 --batches 1 $ALL --json
run s1_base2  $B bench sample --methods esolm_b --lengths 1024 --batches 1 --json
run s1_new2   $N bench sample --methods esolm_b --lengths 1024 --batches 1 $ALL --json
run s1_base3  $B bench sample --methods esolm_b --lengths 1024 --batches 1 --json
run l256_base $B bench sample --methods esolm_b --lengths 256 --batches 1,16 --json
run l256_new  $N bench sample --methods esolm_b --lengths 256 --batches 1,16 $ALL --json
run s16_prof  $N bench sample --methods esolm_b --lengths 1024 --batches 16 --weights bf16,int8a16 --kv-cache bf16 --profile --json
run kernels   $N bench kernels --no-forward --json
echo done >> $O/log
