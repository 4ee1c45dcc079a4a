#!/usr/bin/env python3
"""wav2vec2_fixtures.py: reference outputs for emo's wav2vec 2.0 engine (src/audio/wav2vec2.c),
written once into tests/fixtures/wav2vec2_<name>.fix (EMOFIX v1, tests/fixture.h).

Each fixture holds a tiny randomly initialised torchaudio Wav2Vec2Model (torchaudio 0.13,
torchaudio.models.wav2vec2_model) with a classification head, converted by
tools/wav2vec2_convert.py's torchaudio path into the safetensors file of src/audio/wav2vec2.h,
and, for two real speech clips, the logits and the pooled vector PyTorch computes in float64
from the weights as stored in that file (so an f16 file's reference uses the f16 values):

  input norm -> Wav2Vec2Model.forward (last hidden state; for layer_norm_first models it ends
  with encoder.transformer.layer_norm, which extract_features() would leave out) -> output
  norm -> mean over frames ("pooled") -> head (hf_seqcls: projector then classifier;
  sb_linear: one matrix, no bias).

Tensors per file:
  "info"        uint8 (n): text, versions, configs, clips, pipeline;
  "model"       uint8 (n): the whole converted .safetensors file;
  "s<k>.input"  float32 (n_samples): 16 kHz mono samples, before the input norm;
  "s<k>.logits" float32 (n_labels);
  "s<k>.pooled" float32 (embed_dim): frame-mean of the last hidden state after the output norm.
Samples: s0 = 1.0 s (16000 samples) of RAVDESS speech, s1 = 7211 samples (0.45 s, odd, not a
multiple of the 320-sample hop) of EmoDB speech, both decoded with the ffmpeg CLI.

Models (non-power-of-two sizes on purpose; every LayerNorm/GroupNorm affine and every bias is
random, weights scaled so activations stay O(1)):
  base       group_norm extractor (7 convs, hop 320), no conv bias, post-norm, D 36 H 4 (head
             dim 9) F 72 L 2, pos conv K 16 (even: last frame dropped) G 4, hf_seqcls head
             (projector 20, 7 labels), input zero_mean_unit_var;
  large      layer_norm extractor (7 convs), conv bias, pre-norm (layer_norm_first), D 36 H 3
             F 60 L 2, pos conv K 13 (odd) G 3, sb_linear (neu,ang,hap,sad), input layer_norm,
             output layer_norm_all;
  small      group_norm extractor with 4 convs (hop 40, so ~400 frames for s0), pre-norm,
             D 24 H 2 F 48 L 1, pos conv K 8 G 2, sb_linear 3 labels, input none, output
             layer_norm (per frame over the last dim);
  small_f16  the same model stored with --dtype f16.

--selfcheck also runs an independent float64 numpy implementation of the whole forward pass
(np_forward below, written from the paper and the header, reading the converted file's tensors
by their contract names) and compares it with PyTorch; it documents the math for the C side.
Every normal run does the same checks before writing and refuses to write when they fail.

Usage (from the repository root; needs PyTorch + torchaudio from Debian, numpy, ffmpeg, and
../shared/data or $EMO_SHARED_DATA):
  /usr/bin/python3 tools/ref/wav2vec2_fixtures.py [--selfcheck] [--out tests/fixtures]
"""
import argparse
import math
import os
import platform
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "training"))
import wav2vec2_convert as conv  # noqa: E402
from features import write_fixture  # noqa: E402  (the one EMOFIX writer)

SEED = 20240611
TOL = 1e-9  # numpy vs PyTorch, both float64 (relative to max(1, |ref|))

STD7 = [(20, 10, 5)] + [(20, 3, 2)] * 4 + [(20, 2, 2)] * 2
MODELS = [
    dict(name="base", dtype="f32", extractor_mode="group_norm", conv_layers=STD7, conv_bias=False,
         embed_dim=36, num_layers=2, num_heads=4, ff_dim=72, pos_conv_kernel=16, pos_conv_groups=4,
         layer_norm_first=False, input_norm="zero_mean_unit_var", head="hf_seqcls", output_norm="none",
         proj_dim=20, labels=["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]),
    dict(name="large", dtype="f32", extractor_mode="layer_norm", conv_layers=STD7, conv_bias=True,
         embed_dim=36, num_layers=2, num_heads=3, ff_dim=60, pos_conv_kernel=13, pos_conv_groups=3,
         layer_norm_first=True, input_norm="layer_norm", head="sb_linear", output_norm="layer_norm_all",
         labels=["neu", "ang", "hap", "sad"]),
    dict(name="small", dtype="f32", extractor_mode="group_norm",
         conv_layers=[(16, 10, 5), (16, 3, 2), (16, 3, 2), (16, 2, 2)], conv_bias=False,
         embed_dim=24, num_layers=1, num_heads=2, ff_dim=48, pos_conv_kernel=8, pos_conv_groups=2,
         layer_norm_first=True, input_norm="none", head="sb_linear", output_norm="layer_norm",
         labels=["calm", "tense", "other"]),
]
MODELS.append(dict(MODELS[2], name="small_f16", dtype="f16"))

CLIPS = [  # (path under the shared data folder, start in samples, length in samples)
    ("ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac", 14400, 16000),
    ("ser/emodb/03a01Fa.flac", 4000, 7211),
]


# ----------------------------------------------------------------------------- inputs

def shared_data():
    d = os.environ.get("EMO_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")
    if not os.path.isdir(d):
        sys.exit("wav2vec2_fixtures: shared data folder %s not found (set EMO_SHARED_DATA)" % d)
    return d


def decode(path):
    """16 kHz mono float32 through the ffmpeg CLI."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-f", "f32le", "-ac", "1",
                        "-ar", "16000", "-"], stdout=subprocess.PIPE, check=True)
    return np.frombuffer(r.stdout, dtype="<f4").copy()


def load_clips():
    d = shared_data()
    out = []
    for rel, start, n in CLIPS:
        pcm = decode(os.path.join(d, rel))
        if len(pcm) < start + n:
            sys.exit("wav2vec2_fixtures: %s is shorter than %d samples" % (rel, start + n))
        out.append((rel, start, pcm[start:start + n].astype(np.float32)))
    return out


# ----------------------------------------------------------------------------- models

def build(spec, gen):
    m = conv.torchaudio_model(spec)
    d, k = spec["embed_dim"], spec["pos_conv_kernel"]

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).float()

    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("weight_g"):  # (1, 1, K): folded taps get std ~ 1/sqrt(fan_in)
                p.copy_(math.sqrt(d / k) * (1.0 + 0.3 * (2 * torch.rand(p.shape, generator=gen) - 1)))
            elif name.endswith("weight_v"):
                p.copy_(randn(*p.shape))
            elif "layer_norm" in name and name.endswith("weight"):  # LayerNorm and GroupNorm gains
                p.copy_(1.0 + 0.3 * randn(*p.shape))
            elif name.endswith("bias"):
                p.copy_((0.2 if "layer_norm" in name else 0.1) * randn(*p.shape))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                gain = 1.6 if "conv_layers" in name else 1.0  # GELU halves the variance
                p.copy_(gain / math.sqrt(fan_in) * randn(*p.shape))
    m.eval()
    head = {}
    n = len(spec["labels"])
    if spec["head"] == "hf_seqcls":
        pd = spec["proj_dim"]
        head["head.projector.weight"] = randn(pd, d) / math.sqrt(d)
        head["head.projector.bias"] = 0.1 * randn(pd)
        head["head.classifier.weight"] = 2.0 * randn(n, pd) / math.sqrt(pd)
        head["head.classifier.bias"] = 0.1 * randn(n)
    else:
        head["head.classifier.weight"] = 2.0 * randn(n, d) / math.sqrt(d)
    return m, head


def model_from_file(spec, tensors):
    """A float64 torchaudio model holding exactly the converted file's weights (weight norm of
    the positional conv removed so its folded weight can be loaded)."""
    m, _ = build(spec, torch.Generator().manual_seed(0))
    torch.nn.utils.remove_weight_norm(m.encoder.transformer.pos_conv_embed.conv)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("head.")}
    m = m.double()
    missing, unexpected = m.load_state_dict(sd, strict=True), None
    del missing, unexpected
    m.eval()
    return m


def torch_pipeline(model, head, spec, pcm):
    """The pipeline of src/audio/wav2vec2.h in PyTorch float64 -> (logits, pooled, hidden)."""
    x = torch.from_numpy(pcm.astype(np.float64))[None]
    if spec["input_norm"] == "zero_mean_unit_var":
        x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    elif spec["input_norm"] == "layer_norm":
        x = F.layer_norm(x, x.shape)  # speechbrain: F.layer_norm(wav, wav.shape), eps 1e-5
    with torch.no_grad():
        h, _ = model(x)  # (1, frames, D): forward() includes the final layer norm
        if spec["output_norm"] == "layer_norm":
            h = F.layer_norm(h, h.shape[-1:])
        elif spec["output_norm"] == "layer_norm_all":
            h = F.layer_norm(h, h.shape)
        pooled = h.mean(dim=1)[0]
        if spec["head"] == "hf_seqcls":
            z = pooled @ head["head.projector.weight"].T + head["head.projector.bias"]
            logits = z @ head["head.classifier.weight"].T + head["head.classifier.bias"]
        else:
            logits = pooled @ head["head.classifier.weight"].T
    return logits.numpy(), pooled.numpy(), h[0].numpy()


# ----------------------------------------------------------------------------- numpy reference

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps=1e-5):
    """Over the last axis; population variance."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y if g is None else y * g + b


def conv1d(x, w, stride, groups=1):
    """x (Cin, n), w (Cout, Cin/groups, K), no padding -> (Cout, (n-K)//stride + 1)."""
    cout, cin_g, k = w.shape
    t = (x.shape[1] - k) // stride + 1
    idx = np.arange(t)[:, None] * stride + np.arange(k)[None, :]  # (t, K)
    outs = []
    cout_g = cout // groups
    for gi in range(groups):
        xs = x[gi * cin_g:(gi + 1) * cin_g][:, idx]  # (Cin/g, t, K)
        outs.append(np.einsum("oik,itk->ot", w[gi * cout_g:(gi + 1) * cout_g], xs))
    return np.concatenate(outs, axis=0)


def np_forward(T, meta, pcm):
    """The whole model from the file's tensors T (contract names, float64) and metadata
    (strings) -> (logits, pooled, hidden (frames, D)). Written from the header's description."""
    layers = [tuple(int(v) for v in s.split(":")) for s in meta["conv_layers"].split(",")]
    D, H = int(meta["embed_dim"]), int(meta["num_heads"])
    K, G = int(meta["pos_conv_kernel"]), int(meta["pos_conv_groups"])
    lnf = meta["layer_norm_first"] == "1"
    x = pcm.astype(np.float64)
    if meta["input_norm"] == "zero_mean_unit_var":  # HF: (x - mean) / sqrt(var + 1e-7)
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    elif meta["input_norm"] == "layer_norm":  # speechbrain: one layer norm over the waveform
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-5)
    # feature encoder: conv -> [norm] -> GELU, channels-first (C, t)
    h = x[None, :]
    for i, (c, k, s) in enumerate(layers):
        p = "feature_extractor.conv_layers.%d." % i
        h = conv1d(h, T[p + "conv.weight"], s)
        if meta["conv_bias"] == "1":
            h = h + T[p + "conv.bias"][:, None]
        if meta["extractor_mode"] == "group_norm" and i == 0:
            # GroupNorm with one group per channel: normalise each channel over time
            h = layer_norm(h, None, None) * T[p + "layer_norm.weight"][:, None] + T[p + "layer_norm.bias"][:, None]
        elif meta["extractor_mode"] == "layer_norm":
            # LayerNorm over channels at each time step
            h = layer_norm(h.T, T[p + "layer_norm.weight"], T[p + "layer_norm.bias"]).T
        h = gelu(h)
    h = h.T  # (frames, C)
    # feature projection
    p = "encoder.feature_projection."
    h = layer_norm(h, T[p + "layer_norm.weight"], T[p + "layer_norm.bias"])
    h = h @ T[p + "projection.weight"].T + T[p + "projection.bias"]
    n = h.shape[0]
    # convolutional positional embedding: pad K//2 both sides, grouped conv, keep n frames
    p = "encoder.transformer."
    xp = np.pad(h.T, ((0, 0), (K // 2, K // 2)))
    pos = conv1d(xp, T[p + "pos_conv_embed.conv.weight"], 1, groups=G)
    pos = pos + T[p + "pos_conv_embed.conv.bias"][:, None]
    assert pos.shape[1] == n + (1 if K % 2 == 0 else 0)
    h = h + gelu(pos[:, :n]).T
    if not lnf:
        h = layer_norm(h, T[p + "layer_norm.weight"], T[p + "layer_norm.bias"])
    hd = D // H
    for li in range(int(meta["num_layers"])):
        q = p + "layers.%d." % li

        def attn(z):
            def lin(nm):
                return z @ T[q + "attention.%s.weight" % nm].T + T[q + "attention.%s.bias" % nm]
            Q, Kx, V = lin("q_proj"), lin("k_proj"), lin("v_proj")
            out = np.empty_like(z)
            for hh in range(H):
                sl = slice(hh * hd, (hh + 1) * hd)
                s = (Q[:, sl] / math.sqrt(hd)) @ Kx[:, sl].T  # (n, n)
                s = np.exp(s - s.max(axis=1, keepdims=True))
                out[:, sl] = (s / s.sum(axis=1, keepdims=True)) @ V[:, sl]
            return out @ T[q + "attention.out_proj.weight"].T + T[q + "attention.out_proj.bias"]

        def ff(z):
            u = gelu(z @ T[q + "feed_forward.intermediate_dense.weight"].T + T[q + "feed_forward.intermediate_dense.bias"])
            return u @ T[q + "feed_forward.output_dense.weight"].T + T[q + "feed_forward.output_dense.bias"]

        ln1 = (T[q + "layer_norm.weight"], T[q + "layer_norm.bias"])
        ln2 = (T[q + "final_layer_norm.weight"], T[q + "final_layer_norm.bias"])
        if lnf:  # pre-norm
            h = h + attn(layer_norm(h, *ln1))
            h = h + ff(layer_norm(h, *ln2))
        else:  # post-norm
            h = layer_norm(h + attn(h), *ln1)
            h = layer_norm(h + ff(h), *ln2)
    if lnf:
        h = layer_norm(h, T[p + "layer_norm.weight"], T[p + "layer_norm.bias"])
    if meta["output_norm"] == "layer_norm":
        h = layer_norm(h, None, None)
    elif meta["output_norm"] == "layer_norm_all":
        h = (h - h.mean()) / np.sqrt(h.var() + 1e-5)
    pooled = h.mean(axis=0)
    if meta["head"] == "hf_seqcls":
        z = pooled @ T["head.projector.weight"].T + T["head.projector.bias"]
        logits = z @ T["head.classifier.weight"].T + T["head.classifier.bias"]
    else:
        logits = pooled @ T["head.classifier.weight"].T
    return logits, pooled, h


def worst(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def make(spec, clips, verbose):
    gen = torch.Generator().manual_seed(SEED + sum(map(ord, spec["name"].replace("_f16", ""))))
    model, head = build(spec, gen)
    cfg = {k: spec[k] for k in conv.TORCHAUDIO_CONFIG if k in spec}
    conv_out = conv.from_torchaudio(model.state_dict(), cfg, head=head,
                                    source="torchaudio-fixture:%s" % spec["name"])
    blob = conv_out.to_bytes(spec["dtype"])
    T, meta = conv.read_safetensors_numpy(blob, "wav2vec2_%s" % spec["name"])
    ref_model = model_from_file(spec, T)
    ref_head = {k: torch.from_numpy(v) for k, v in T.items() if k.startswith("head.")}
    orig = model.double()  # weight-norm hooks intact: checks the converter's fold (f32 only)
    orig_head = {k: v.double() for k, v in head.items()}

    report, tensors = [], []
    for k, (rel, start, pcm) in enumerate(clips):
        logits, pooled, hid = torch_pipeline(ref_model, ref_head, spec, pcm)
        nl, npool, nhid = np_forward(T, meta, pcm)
        d_np = max(worst(nl, logits), worst(npool, pooled), worst(nhid, hid))
        ol, _, _ = torch_pipeline(orig, orig_head, spec, pcm)
        d_orig = worst(logits, ol)
        stats = "frames %d, |hidden| rms %.3f max %.2f, logits %s" % (
            hid.shape[0], float(np.sqrt((hid ** 2).mean())), float(np.abs(hid).max()),
            np.array2string(logits, precision=3, floatmode="fixed"))
        report.append((k, d_np, d_orig, stats))
        if d_np > TOL:
            raise SystemExit("wav2vec2_fixtures: %s s%d: numpy and PyTorch differ by %.3g" % (spec["name"], k, d_np))
        if spec["dtype"] == "f32" and d_orig > 1e-5:
            raise SystemExit("wav2vec2_fixtures: %s s%d: converted weights change the logits by %.3g"
                             % (spec["name"], k, d_orig))
        tensors += [("s%d.input" % k, pcm), ("s%d.logits" % k, logits), ("s%d.pooled" % k, pooled)]
    # large-model note: extract_features() stops before the final layer norm
    if spec["layer_norm_first"]:
        x = torch.from_numpy(clips[0][2].astype(np.float64))[None]
        with torch.no_grad():
            fe = ref_model.extract_features(x)[0][-1]
            fw = ref_model(x)[0]
        ln_gap = float((fe - fw).abs().max())
    else:
        ln_gap = 0.0

    info = "\n".join([
        "emo wav2vec2 parity fixture %s (tools/ref/wav2vec2_fixtures.py)" % spec["name"],
        "reference: torch %s, torchaudio %s, numpy %s, python %s; float64; seed %d" % (
            torch.__version__, torchaudio.__version__, np.__version__, platform.python_version(), SEED),
        "pipeline: input_norm -> torchaudio Wav2Vec2Model.forward (last hidden state) -> output_norm "
        "-> mean over frames (s<k>.pooled) -> head (s<k>.logits); weights as stored in 'model' (%s)" % spec["dtype"],
        "config: " + ", ".join("%s=%s" % (k, v) for k, v in meta.items()),
        "clips: " + "; ".join("s%d %s from sample %d, %d samples (ffmpeg -ar 16000 -ac 1 f32le)" % (
            k, rel, start, len(pcm)) for k, (rel, start, pcm) in enumerate(clips)),
        "data: RAVDESS (CC BY-NC-SA 4.0), EmoDB (free for research)",
    ]) + "\n"
    out = [("info", np.frombuffer(info.encode(), np.uint8)), ("model", np.frombuffer(blob, np.uint8))] + tensors
    if verbose:
        print("%s (%s, %d params, model %d bytes)" % (spec["name"], spec["dtype"], conv_out.n_params(), len(blob)))
        for k, d_np, d_orig, stats in report:
            print("  s%d: numpy vs torch %.2e, stored vs original weights %.2e; %s" % (k, d_np, d_orig, stats))
        if spec["layer_norm_first"]:
            print("  extract_features()[-1] vs forward(): max diff %.3f (forward adds the final layer norm)" % ln_gap)
    return out, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selfcheck", action="store_true", help="check against the numpy reference, write nothing")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    clips = load_clips()
    worst_np = 0.0
    for spec in MODELS:
        tensors, report = make(spec, clips, verbose=True)
        worst_np = max([worst_np] + [r[1] for r in report])
        if not a.selfcheck:
            path = os.path.join(a.out, "wav2vec2_%s.fix" % spec["name"])
            write_fixture(path, tensors)
            print("  wrote %s (%d bytes)" % (os.path.relpath(path, ROOT), os.path.getsize(path)))
    print("selfcheck: worst numpy vs PyTorch difference %.2e (tolerance %.0e): OK" % (worst_np, TOL))


if __name__ == "__main__":
    main()
