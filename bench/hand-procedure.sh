#!/usr/bin/env bash
# The on-call engineer's procedure done by hand, for comparison with `diagnose`:
# overlay with qemu-img, boot with qemu-system (obuilder's command, TCG, forward on 127.0.0.1),
# poll ssh every 0.5 s, stream the files out with tar, stop QEMU. Prints phase times as JSON.
# Usage: hand-procedure.sh LAYER_IMAGE SSH_KEY DST OUT_DIR
set -euo pipefail
layer=$1 key=$2 dst=$3 out=$4
ms() { echo $(( $(date +%s%N) / 1000000 )); }
tmp=$(mktemp -d)
trap 'kill $qpid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
t0=$(ms)
qemu-img create -q -f qcow2 -b "$layer" -F qcow2 "$tmp/overlay.qcow2"
t1=$(ms)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
qemu-system-x86_64 -machine accel=tcg,type=pc -display none -m 2G -smp 2 \
  -device virtio-net,netdev=net0 -netdev user,id=net0,restrict=yes,hostfwd=tcp:127.0.0.1:$port-:22 \
  -drive file="$tmp/overlay.qcow2",if=virtio -serial file:"$tmp/console.log" -monitor none &
qpid=$!
ssh_opts=(-i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=2 -o LogLevel=ERROR)
until ssh "${ssh_opts[@]}" opam@127.0.0.1 exit 2>/dev/null; do sleep 0.5; done
t2=$(ms)
mkdir -p "$out"
ssh "${ssh_opts[@]}" opam@127.0.0.1 "tar -C $dst -cf - ." | tar -C "$out" -xf -
t3=$(ms)
kill $qpid; wait $qpid 2>/dev/null || true
t4=$(ms)
echo "{\"overlayMs\": $((t1-t0)), \"bootMs\": $((t2-t1)), \"extractMs\": $((t3-t2)), \"stopMs\": $((t4-t3)), \"totalMs\": $((t4-t0))}"
