#!/usr/bin/env bash
# wav2vec2.sh BUILD_DIR: emo's wav2vec 2.0 engine (bench_wav2vec2) against PyTorch 1.13 +
# torchaudio 0.13 from Debian (the peer a user would otherwise run), on the same full-size
# random-weight models and the same 10 s input, one machine, one run:
#   base   group_norm extractor, 7 convs 512 ch (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2),
#          no conv bias, D 768, 12 layers, 12 heads, FFN 3072, pos conv 128/16, post-norm,
#          hf_seqcls head (projector 256, 4 labels), input zero_mean_unit_var (~95 M params);
#   large  layer_norm extractor, conv bias, D 1024, 24 layers, 16 heads, FFN 4096, pos conv
#          128/16, pre-norm, hf_seqcls head (7 labels) (~317 M params).
# The models are built with torchaudio.models.wav2vec2_model, saved as state dicts and converted
# with tools/wav2vec2_convert.py (torchaudio source). PyTorch is timed in its own process per
# thread count (torch.set_num_threads(n) and OMP/OPENBLAS_NUM_THREADS=n, since Debian's torch
# calls the system BLAS, whose threads torch does not govern), under torch.inference_mode, on
# input norm + Wav2Vec2Model.forward + mean + head; emo on w2v_classify. Both: median of RUNS
# runs after a warm-up. With 2 threads PyTorch runs twice, with OpenMP's default (spinning)
# wait policy and with OMP_WAIT_POLICY=PASSIVE (on 2 cores OpenMP's spinning threads fight
# OpenBLAS's, which costs Debian's torch up to 1.5x); the table takes the faster of the two. The logits of both are compared (float32 each; a sanity check of the
# full-size path, expect ~1e-4). Prints a table of medians; asserts nothing.
# Temporary files (about 4 GB: state dicts and converted models) go to a fresh folder under
# ${TMPDIR:-/tmp}, removed at exit; nothing is written into the repository.
# env: PYTHON (default /usr/bin/python3), RUNS (default 5), MODELS (default "base large").
# Skips with a message when PyTorch or torchaudio is missing.
set -euo pipefail
build=$(cd "${1:?usage: bench/wav2vec2.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
runs=${RUNS:-5}
models=${MODELS:-base large}
bench=$build/bench/bench_wav2vec2
[ -x "$bench" ] || { echo "wav2vec2.sh: $bench not built (cmake --build $build)" >&2; exit 1; }
if ! "$py" -c "import torch, torchaudio" 2>/dev/null; then
  echo "wav2vec2.sh: PyTorch/torchaudio not available to $py: nothing to compare, skipped"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/emo-w2v-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
nice=""
[ "$(id -u)" -eq 0 ] && nice="nice -n -10"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# ---- the models and the input
"$py" - "$tmp" "$root" $models <<'EOF'
import json, math, os, sys
import numpy as np, torch
out, root, names = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, os.path.join(root, "tools"))
from wav2vec2_convert import torchaudio_model
CFG = {
    "base": dict(extractor_mode="group_norm", conv_bias=False, embed_dim=768, num_layers=12,
                 num_heads=12, ff_dim=3072, layer_norm_first=False, proj=256,
                 labels=["neu", "ang", "hap", "sad"]),
    "large": dict(extractor_mode="layer_norm", conv_bias=True, embed_dim=1024, num_layers=24,
                  num_heads=16, ff_dim=4096, layer_norm_first=True, proj=256,
                  labels=["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]),
}
torch.manual_seed(0)
for name in names:
    c = CFG[name]
    conv = [[512, 10, 5]] + [[512, 3, 2]] * 4 + [[512, 2, 2]] * 2
    c.update(conv_layers=conv, pos_conv_kernel=128, pos_conv_groups=16)
    m = torchaudio_model(c)
    sd = dict(m.state_dict())
    d, p, n = c["embed_dim"], c["proj"], len(c["labels"])
    sd["head.projector.weight"] = torch.randn(p, d) / math.sqrt(d)
    sd["head.projector.bias"] = 0.1 * torch.randn(p)
    sd["head.classifier.weight"] = torch.randn(n, p) / math.sqrt(p)
    sd["head.classifier.bias"] = 0.1 * torch.randn(n)
    torch.save(sd, os.path.join(out, name + ".pt"))
    cfg = {k: c[k] for k in ("extractor_mode", "conv_bias", "embed_dim", "num_layers", "num_heads",
                             "ff_dim", "layer_norm_first", "labels")}
    cfg.update(conv_layers=conv, pos_conv_kernel=128, pos_conv_groups=16,
               input_norm="zero_mean_unit_var", head="hf_seqcls", output_norm="none")
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(cfg, f)
    print("built %s: %.1f M parameters" % (name, sum(v.numel() for v in sd.values()) / 1e6))
# 10 s of a speech-like signal: harmonics of a wandering pitch, amplitude-modulated, plus noise
t = np.arange(160000) / 16000.0
ph = np.cumsum(2 * np.pi * (140 + 40 * np.sin(2 * np.pi * 0.7 * t)) / 16000.0)
x = sum(np.sin(h * ph) / h for h in range(1, 9)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
x = 0.1 * x + 0.005 * np.random.default_rng(0).standard_normal(len(t))
x.astype("<f4").tofile(os.path.join(out, "input.f32"))
EOF

for m in $models; do
  "$py" "$root/tools/wav2vec2_convert.py" torchaudio "$tmp/$m.pt" "$tmp/$m.json" \
    -o "$tmp/$m.safetensors" >"$tmp/$m.convert.log" ||
    { cat "$tmp/$m.convert.log"; echo "wav2vec2.sh: conversion of $m failed" >&2; exit 1; }
done

# ---- PyTorch: one process per model and thread count
torch_run() { # MODEL THREADS WAIT_POLICY -> "median_ms p10 p90 | logits..." on the last line
  env OMP_NUM_THREADS="$2" OPENBLAS_NUM_THREADS="$2" MKL_NUM_THREADS="$2" \
    ${3:+OMP_WAIT_POLICY=$3} $nice "$py" - "$tmp" "$1" "$2" "$runs" "$root" <<'EOF'
import json, os, sys, time
import numpy as np, torch
tmp, name, nt, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, os.path.join(sys.argv[5], "tools"))
from wav2vec2_convert import torchaudio_config, torchaudio_model
torch.set_num_threads(nt)
c = json.load(open(os.path.join(tmp, name + ".json")))
sd = torch.load(os.path.join(tmp, name + ".pt"))
head = {k: sd.pop(k) for k in list(sd) if k.startswith("head.")}
m = torchaudio_model(torchaudio_config(c))
m.load_state_dict(sd)
m.eval()
x = torch.from_numpy(np.fromfile(os.path.join(tmp, "input.f32"), dtype="<f4"))[None]

def run():
    z = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    h, _ = m(z)
    p = h.mean(dim=1) @ head["head.projector.weight"].T + head["head.projector.bias"]
    return p @ head["head.classifier.weight"].T + head["head.classifier.bias"]

with torch.inference_mode():
    run()
    ts, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = run()
        ts.append((time.perf_counter() - t0) * 1e3)
ts.sort()
q = lambda f: ts[int(f * (len(ts) - 1) + 0.5)]
med = ts[len(ts) // 2] if len(ts) % 2 else 0.5 * (ts[len(ts) // 2 - 1] + ts[len(ts) // 2])
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and ".so" in l})
print("blas:", " ".join(os.path.realpath(b) for b in blas) or "none")
print("%.1f %.1f %.1f |" % (med, q(0.1), q(0.9)), " ".join("%.8g" % v for v in out[0].tolist()))
EOF
}

declare -A res
for m in $models; do
  for tw in 1: 2: 2:PASSIVE; do
    t=${tw%%:*} w=${tw#*:}
    echo "== PyTorch $m, $t thread(s)${w:+, OMP_WAIT_POLICY=$w}, $runs runs"
    o=$(torch_run "$m" "$t" "$w")
    [ "$tw" = 1: ] && echo "$o" | grep '^blas:' | head -1
    line=$(echo "$o" | tail -1)
    med=${line%% |*}
    echo "   median/p10/p90 ms: $med"
    old=${res[$m.torch.$t]:-}
    if [ -z "$old" ] || awk -v a="${med%% *}" -v b="${old%% *}" 'BEGIN { exit !(a < b) }'; then
      res[$m.torch.$t]=$med
    fi
    res[$m.torch.logits]=${line#*| }
  done
  echo "== emo $m (bench_wav2vec2, $runs runs)"
  o=$($nice "$bench" "$tmp/$m.safetensors" -i "$tmp/input.f32" -r "$runs" -t 1,2)
  echo "$o"
  res[$m.emo.1]=$(echo "$o" | sed -n 's/^  1 thread: median \([0-9.]*\).*/\1/p')
  res[$m.emo.2]=$(echo "$o" | sed -n 's/^  2 threads: median \([0-9.]*\).*/\1/p')
  res[$m.emo.logits]=$(echo "$o" | sed -n 's/^logits: //p')
done

echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "wav2vec 2.0, 10 s of 16 kHz audio, median ms per utterance (lower is better)"
printf "%-6s | %10s %10s | %10s %10s | %8s %8s | %s\n" model "torch 1t" "emo 1t" "torch 2t" \
  "emo 2t" "x 1t" "x 2t" "max |logit diff|"
for m in $models; do
  pt1=${res[$m.torch.1]%% *} pt2=${res[$m.torch.2]%% *}
  e1=${res[$m.emo.1]} e2=${res[$m.emo.2]}
  diff=$(awk -v a="${res[$m.torch.logits]}" -v b="${res[$m.emo.logits]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); w = 0
    for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > w) w = d }
    printf "%.2g", w }')
  awk -v m="$m" -v p1="$pt1" -v p2="$pt2" -v e1="$e1" -v e2="$e2" -v d="$diff" 'BEGIN {
    printf "%-6s | %10.1f %10.1f | %10.1f %10.1f | %7.2fx %7.2fx | %s\n", m, p1, e1, p2, e2,
      p1 / e1, p2 / e2, d }'
done
echo "(x = PyTorch time / emo time: above 1 means emo is faster)"
