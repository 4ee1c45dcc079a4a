#!/usr/bin/env python3
"""wav2vec2_convert.py: turns a wav2vec 2.0 speech-emotion checkpoint into the safetensors file
that emo's C engine loads (contract: src/audio/wav2vec2.h; metadata format "emo-wav2vec2",
version "1", tensors named as in torchaudio's Wav2Vec2Model state dict plus head.*).

Three sources:
  hf           a Hugging Face Wav2Vec2ForSequenceClassification directory: config.json, and
               model.safetensors and/or pytorch_model.bin (or a sharded *.index.json), optional
               preprocessor_config.json (do_normalize). Example: r-f/wav2vec-english-speech-
               emotion-recognition (7 classes, an XLSR-53 fine-tune).
  speechbrain  a speechbrain emotion-recognition-wav2vec2-IEMOCAP style directory:
               hyperparams.yaml, wav2vec2.ckpt (Hugging Face Wav2Vec2Model state dict, keys
               possibly prefixed "model."), model.ckpt or output_mlp.ckpt (one linear layer
               "w.weight" without bias), label_encoder.txt ("'neu' => 0" lines).
  torchaudio   a torchaudio Wav2Vec2Model state dict (torch.save'd; may also hold the head.*
               tensors) plus a JSON config in this file's own terms (see TORCHAUDIO_CONFIG
               below); used by tools/ref/wav2vec2_fixtures.py and by benchmarks.

What it does: maps the checkpoint's names onto the contract's, folds the weight norm of the
positional convolution (torch._weight_norm(v, g, dim)), drops pretraining-only tensors
(masked_spec_embed, quantizer, project_q/hid, CTC heads) with a note, refuses anything that
would change the computation (adapters, weighted layer sum, non-GELU activations, other
LayerNorm eps), checks every shape against the contract and prints a summary. It writes the
safetensors file itself (8-byte little-endian header length, JSON header with __metadata__ and
per tensor dtype/shape/data_offsets, header padded with spaces to a multiple of 8, then the
data, contiguous in header order) because the safetensors package is not a dependency.

Input normalisation: Hugging Face checkpoints get "zero_mean_unit_var" when the
preprocessor_config.json says do_normalize true, "none" when false; when the file is absent we
take true (the default of transformers' Wav2Vec2FeatureExtractor) and say so.

speechbrain: speechbrain 0.5 (HuggingFaceWav2Vec2) computes F.layer_norm(wav, wav.shape) and,
with output_norm: True, F.layer_norm(out, out.shape) on the (batch, frames, dim) last hidden
state; speechbrain >= 1.0 (huggingface_transformers.wav2vec2.Wav2Vec2) uses wav.shape[1:] and
out.shape[1:]. For the single utterance emo passes, both are one normalisation over the whole
waveform ("layer_norm") and one over all frames and dims jointly ("layer_norm_all").
--speechbrain-version {0,1} (default 0, the version the IEMOCAP model was published for) is
accepted and recorded (metadata "source"); both give the same tensors and norms. Override with --input-norm / --output-norm
(e.g. --output-norm layer_norm for a model normalised per frame over the last dim).

Usage:
  python3 tools/wav2vec2_convert.py hf DIR -o OUT.safetensors [--dtype f32|f16]
  python3 tools/wav2vec2_convert.py speechbrain DIR -o OUT.safetensors [--speechbrain-version 0]
  python3 tools/wav2vec2_convert.py torchaudio STATE.pt CONFIG.json -o OUT.safetensors
Common overrides: --input-norm, --output-norm, --labels a,b,c; speechbrain also --hf-config
(the backbone's config.json), --num-heads, --conv-strides 5,2,2,2,2,2,2, --layer-norm-first 0|1.
Exit status 0, 1 on a conversion error (message names the file, tensor or key), 2 on usage.
Needs PyTorch (Debian python3-torch); nothing else outside the standard library.
"""
import argparse
import collections
import json
import mmap
import os
import re
import struct
import sys

import numpy as np

try:
    import torch
except ImportError:  # the module stays importable so tests can skip with a reason
    torch = None

FORMAT = "emo-wav2vec2"
VERSION = "1"
MAX_CONV_LAYERS = 16
MAX_LABELS = 64  # W2V_MAX_LABELS in src/audio/wav2vec2.h
MIN_SAMPLES = 400  # W2V_MIN_SAMPLES
F16_MAX = 65504.0

INPUT_NORMS = ("none", "zero_mean_unit_var", "layer_norm")
OUTPUT_NORMS = ("none", "layer_norm", "layer_norm_all")
HEADS = ("hf_seqcls", "sb_linear")

# The torchaudio source's JSON config: our names (left), or the keyword names of
# torchaudio.models.wav2vec2_model (right) for the backbone.
TORCHAUDIO_CONFIG = {
    "extractor_mode": "extractor_mode",  # "group_norm" | "layer_norm"
    "conv_layers": "extractor_conv_layer_config",  # [[C, K, S], ...]
    "conv_bias": "extractor_conv_bias",
    "embed_dim": "encoder_embed_dim",
    "num_layers": "encoder_num_layers",
    "num_heads": "encoder_num_heads",
    "ff_dim": "encoder_ff_interm_features",
    "pos_conv_kernel": "encoder_pos_conv_kernel",
    "pos_conv_groups": "encoder_pos_conv_groups",
    "layer_norm_first": "encoder_layer_norm_first",
    "input_norm": None,  # see INPUT_NORMS
    "head": None,  # see HEADS
    "output_norm": None,  # see OUTPUT_NORMS; "none" when absent
    "labels": None,  # list of names in logit order
}

# Tensors of pretraining or other heads: dropped with a note (they do not take part in
# Wav2Vec2ForSequenceClassification's or speechbrain's forward pass in eval mode).
DROPPED = re.compile(r"^(masked_spec_embed|quantizer\.|project_q\.|project_hid\.|lm_head\.|aux\.|"
                     r"dropout_features|final_proj\.|label_embs_concat)")

# Known speechbrain backbones (the hub name in hyperparams.yaml): what the tensors cannot tell.
# heads: number of attention heads; lnf: layer_norm_first (do_stable_layer_norm).
HUB_DEFAULTS = [
    # (regex on the hub name, embed_dim, heads, layer_norm_first)
    (r"wav2vec2-base", 768, 12, False),
    (r"wav2vec2-large-(lv60|robust|xlsr|960h-lv60)|xls-r|xlsr", 1024, 16, True),
    (r"wav2vec2-large(-960h)?$", 1024, 16, False),
]
STD_STRIDES = [5, 2, 2, 2, 2, 2, 2]


class ConvertError(Exception):
    pass


def note(msg):
    print("wav2vec2_convert: " + msg)


# --------------------------------------------------------------------------- safetensors I/O

ST_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
            "I8": "i1", "U8": "u1", "BOOL": "?"}


def parse_safetensors(buf, source="<memory>"):
    """Parses a safetensors image (bytes-like). Returns (header dict without __metadata__,
    metadata dict, data offset). Checks bounds, contiguity and shapes."""
    if len(buf) < 8:
        raise ConvertError("%s: too short for a safetensors file" % source)
    (hlen,) = struct.unpack_from("<Q", buf, 0)
    if hlen > len(buf) - 8 or hlen > 100 * 1024 * 1024:
        raise ConvertError("%s: header length %d out of range (file %d bytes)" % (source, hlen, len(buf)))
    try:
        header = json.loads(bytes(buf[8:8 + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConvertError("%s: header is not JSON: %s" % (source, e))
    meta = header.pop("__metadata__", None) or {}
    data_len = len(buf) - 8 - hlen
    for name, h in header.items():
        try:
            a, b = h["data_offsets"]
            shape = h["shape"]
            dt = h["dtype"]
        except (KeyError, TypeError, ValueError):
            raise ConvertError("%s: tensor %r: malformed header entry" % (source, name))
        if not (0 <= a <= b <= data_len):
            raise ConvertError("%s: tensor %r: data_offsets %r outside the data (%d bytes)"
                               % (source, name, [a, b], data_len))
        if dt == "BF16":
            size = 2
        elif dt in ST_NUMPY:
            size = np.dtype(ST_NUMPY[dt]).itemsize
        else:
            raise ConvertError("%s: tensor %r: unsupported dtype %s" % (source, name, dt))
        if int(np.prod(shape, dtype=np.int64)) * size != b - a:
            raise ConvertError("%s: tensor %r: shape %r does not match %d bytes" % (source, name, shape, b - a))
    return header, meta, 8 + hlen


def read_safetensors_numpy(buf, source="<memory>"):
    """-> (OrderedDict name -> float64 numpy array, metadata). Floating dtypes only."""
    header, meta, base = parse_safetensors(buf, source)
    out = collections.OrderedDict()
    for name, h in header.items():
        a, b = h["data_offsets"]
        raw = bytes(buf[base + a:base + b])
        if h["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view("<f4").astype(np.float64)
        else:
            arr = np.frombuffer(raw, dtype=ST_NUMPY[h["dtype"]]).astype(np.float64)
        out[name] = arr.reshape(h["shape"])
    return out, meta


def read_safetensors_torch(path):
    """-> OrderedDict name -> torch tensor (its own memory) from a safetensors file."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    try:
        header, _, base = parse_safetensors(mm, path)
        out = collections.OrderedDict()
        for name, h in header.items():
            a, b = h["data_offsets"]
            if h["dtype"] == "BF16":
                dt = torch.bfloat16
            else:
                dt = torch.from_numpy(np.zeros(0, dtype=ST_NUMPY[h["dtype"]])).dtype
            if b == a:
                t = torch.zeros(h["shape"], dtype=dt)
            else:
                t = torch.frombuffer(mm, dtype=dt, count=(b - a) // t_size(dt), offset=base + a)
                t = t.reshape(h["shape"]).clone()
            out[name] = t
        return out
    finally:
        del mm


def t_size(dt):
    return torch.empty(0, dtype=dt).element_size()


def write_safetensors(f, tensors, metadata):
    """tensors: list of (name, numpy array, little-endian f4 or f2); metadata: str -> str.
    Writes to the binary file object f. Data follow the header contiguously in list order."""
    header = collections.OrderedDict()
    header["__metadata__"] = collections.OrderedDict((k, str(v)) for k, v in metadata.items())
    off = 0
    for name, arr in tensors:
        dt = {"<f4": "F32", "<f2": "F16"}[arr.dtype.str]
        n = arr.nbytes
        header[name] = collections.OrderedDict(
            [("dtype", dt), ("shape", list(arr.shape)), ("data_offsets", [off, off + n])])
        off += n
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for _, arr in tensors:
        f.write(np.ascontiguousarray(arr).tobytes())


# --------------------------------------------------------------------------- the contract

def conv_layers_str(layers):
    return ",".join("%d:%d:%d" % tuple(l) for l in layers)


def expected_shapes(cfg):
    """cfg (see Converted) -> OrderedDict contract tensor name -> shape tuple, file order."""
    s = collections.OrderedDict()
    prev = 1
    for i, (c, k, _) in enumerate(cfg["conv_layers"]):
        p = "feature_extractor.conv_layers.%d." % i
        s[p + "conv.weight"] = (c, prev, k)
        if cfg["conv_bias"]:
            s[p + "conv.bias"] = (c,)
        if cfg["extractor_mode"] == "layer_norm" or i == 0:
            s[p + "layer_norm.weight"] = (c,)
            s[p + "layer_norm.bias"] = (c,)
        prev = c
    d, f, g, k = cfg["embed_dim"], cfg["ff_dim"], cfg["pos_conv_groups"], cfg["pos_conv_kernel"]
    s["encoder.feature_projection.layer_norm.weight"] = (prev,)
    s["encoder.feature_projection.layer_norm.bias"] = (prev,)
    s["encoder.feature_projection.projection.weight"] = (d, prev)
    s["encoder.feature_projection.projection.bias"] = (d,)
    s["encoder.transformer.pos_conv_embed.conv.weight"] = (d, d // g, k)
    s["encoder.transformer.pos_conv_embed.conv.bias"] = (d,)
    s["encoder.transformer.layer_norm.weight"] = (d,)
    s["encoder.transformer.layer_norm.bias"] = (d,)
    for l in range(cfg["num_layers"]):
        p = "encoder.transformer.layers.%d." % l
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s[p + "attention.%s.weight" % proj] = (d, d)
            s[p + "attention.%s.bias" % proj] = (d,)
        s[p + "layer_norm.weight"] = (d,)
        s[p + "layer_norm.bias"] = (d,)
        s[p + "feed_forward.intermediate_dense.weight"] = (f, d)
        s[p + "feed_forward.intermediate_dense.bias"] = (f,)
        s[p + "feed_forward.output_dense.weight"] = (d, f)
        s[p + "feed_forward.output_dense.bias"] = (d,)
        s[p + "final_layer_norm.weight"] = (d,)
        s[p + "final_layer_norm.bias"] = (d,)
    n = len(cfg["labels"])
    if cfg["head"] == "hf_seqcls":
        pdim = cfg["proj_dim"]
        s["head.projector.weight"] = (pdim, d)
        s["head.projector.bias"] = (pdim,)
        s["head.classifier.weight"] = (n, pdim)
        s["head.classifier.bias"] = (n,)
    else:
        s["head.classifier.weight"] = (n, d)
    return s


def receptive_field(layers):
    r = 1
    for _, k, st in reversed(layers):
        r = (r - 1) * st + k
    return r


def check_config(cfg):
    def need(cond, msg):
        if not cond:
            raise ConvertError("config: " + msg)

    need(cfg["extractor_mode"] in ("group_norm", "layer_norm"),
         "extractor_mode %r (want group_norm or layer_norm)" % (cfg["extractor_mode"],))
    layers = cfg["conv_layers"]
    need(1 <= len(layers) <= MAX_CONV_LAYERS, "%d conv layers (1..%d)" % (len(layers), MAX_CONV_LAYERS))
    for i, l in enumerate(layers):
        need(len(l) == 3 and all(isinstance(v, int) and v >= 1 for v in l),
             "conv layer %d: %r is not (channels, kernel, stride) >= 1" % (i, l))
    d, h, g = cfg["embed_dim"], cfg["num_heads"], cfg["pos_conv_groups"]
    for key in ("embed_dim", "num_layers", "num_heads", "ff_dim", "pos_conv_kernel", "pos_conv_groups"):
        need(isinstance(cfg[key], int) and cfg[key] >= 1, "%s = %r (want an integer >= 1)" % (key, cfg[key]))
    need(d % h == 0, "embed_dim %d is not a multiple of num_heads %d" % (d, h))
    need(d % g == 0, "embed_dim %d is not a multiple of pos_conv_groups %d" % (d, g))
    need(cfg["input_norm"] in INPUT_NORMS, "input_norm %r (want one of %s)" % (cfg["input_norm"], INPUT_NORMS))
    need(cfg["output_norm"] in OUTPUT_NORMS,
         "output_norm %r (want one of %s)" % (cfg["output_norm"], OUTPUT_NORMS))
    need(cfg["head"] in HEADS, "head %r (want one of %s)" % (cfg["head"], HEADS))
    need(cfg["head"] == "sb_linear" or cfg["output_norm"] == "none",
         "output_norm %r is defined for the sb_linear head only" % cfg["output_norm"])
    labels = cfg["labels"]
    need(1 <= len(labels) <= MAX_LABELS, "%d labels (1..%d)" % (len(labels), MAX_LABELS))
    for lab in labels:
        need(isinstance(lab, str) and lab != "" and "," not in lab and lab.strip() == lab
             and all(ord(ch) >= 32 for ch in lab),
             "label %r: labels must be non-empty, without commas, control characters or outer "
             "spaces (rename with --labels)" % (lab,))
    need(len(set(labels)) == len(labels), "duplicate labels in %r" % (labels,))


class Converted:
    """A model in the contract's terms: cfg (typed config) and tensors (contract name -> torch
    float32 tensor). Built by the from_* functions, checked by validate()."""

    def __init__(self, cfg, tensors, source):
        self.cfg = cfg
        self.tensors = tensors
        self.source = source
        self.validate()

    def validate(self):
        check_config(self.cfg)
        want = expected_shapes(self.cfg)
        missing = [n for n in want if n not in self.tensors]
        if missing:
            raise ConvertError("missing tensor%s (contract names): %s" % (
                "s" if len(missing) > 1 else "", ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")))
        extra = [n for n in self.tensors if n not in want]
        if extra:
            raise ConvertError("tensors the config does not account for: %s" % ", ".join(extra[:12]))
        for n, shape in want.items():
            got = tuple(self.tensors[n].shape)
            if got != shape:
                raise ConvertError("tensor %s: shape %r, the config implies %r" % (n, got, shape))
            if not bool(torch.isfinite(self.tensors[n]).all()):
                raise ConvertError("tensor %s holds NaN or infinity" % n)

    def metadata(self):
        c = self.cfg
        m = collections.OrderedDict()
        m["format"] = FORMAT
        m["version"] = VERSION
        m["extractor_mode"] = c["extractor_mode"]
        m["conv_layers"] = conv_layers_str(c["conv_layers"])
        m["conv_bias"] = "1" if c["conv_bias"] else "0"
        for k in ("embed_dim", "num_layers", "num_heads", "ff_dim", "pos_conv_kernel", "pos_conv_groups"):
            m[k] = str(c[k])
        m["layer_norm_first"] = "1" if c["layer_norm_first"] else "0"
        m["input_norm"] = c["input_norm"]
        m["head"] = c["head"]
        m["output_norm"] = c["output_norm"]
        m["labels"] = ",".join(c["labels"])
        m["source"] = self.source  # informational only
        return m

    def arrays(self, dtype="f32"):
        """-> list of (name, little-endian numpy array) in contract order."""
        npdt = {"f32": "<f4", "f16": "<f2"}[dtype]
        out = []
        for n in expected_shapes(self.cfg):
            t = self.tensors[n]
            if dtype == "f16":
                big = float(t.abs().max()) if t.numel() else 0.0
                if big > F16_MAX:
                    raise ConvertError("tensor %s: |value| %.4g exceeds float16's range; use --dtype f32" % (n, big))
            out.append((n, t.detach().cpu().numpy().astype(npdt)))
        return out

    def to_bytes(self, dtype="f32"):
        import io
        bio = io.BytesIO()
        write_safetensors(bio, self.arrays(dtype), self.metadata())
        return bio.getvalue()

    def write(self, path, dtype="f32"):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            write_safetensors(f, self.arrays(dtype), self.metadata())
        os.replace(tmp, path)

    def n_params(self):
        return sum(int(t.numel()) for t in self.tensors.values())

    def summary(self, dtype="f32"):
        c = self.cfg
        lines = [
            "source           %s" % self.source,
            "extractor        %s, conv %s, conv_bias %d (receptive field %d samples, hop %d)" % (
                c["extractor_mode"], conv_layers_str(c["conv_layers"]), c["conv_bias"],
                receptive_field(c["conv_layers"]), int(np.prod([l[2] for l in c["conv_layers"]]))),
            "encoder          D %d, L %d, H %d, F %d, pos conv K %d G %d, layer_norm_first %d" % (
                c["embed_dim"], c["num_layers"], c["num_heads"], c["ff_dim"], c["pos_conv_kernel"],
                c["pos_conv_groups"], c["layer_norm_first"]),
            "input_norm       %s" % c["input_norm"],
            "head             %s%s, output_norm %s" % (
                c["head"], " (projector %d)" % c["proj_dim"] if c["head"] == "hf_seqcls" else "",
                c["output_norm"]),
            "labels           %s" % ",".join(c["labels"]),
            "parameters       %d (%.1f MB as %s)" % (self.n_params(), self.n_params() * (4 if dtype == "f32" else 2) / 1e6, dtype),
        ]
        if receptive_field(c["conv_layers"]) > MIN_SAMPLES:
            lines.append("warning          receptive field exceeds W2V_MIN_SAMPLES (%d)" % MIN_SAMPLES)
        return "\n".join(lines)


# --------------------------------------------------------------------------- name mapping

def f32(t):
    return t.detach().to(torch.float32).contiguous()


def f64(t):
    return t.detach().to(torch.float64).contiguous()


def fold_weight_norm(g, v, what):
    """weight = g * v / ||v|| with the norm over every dim but the one g keeps (torch's
    weight_norm; Hugging Face and torchaudio use dim=2 for the positional conv)."""
    g, v = f64(g), f64(v)
    if g.dim() != v.dim():
        raise ConvertError("%s: weight_g %r and weight_v %r differ in rank" % (what, tuple(g.shape), tuple(v.shape)))
    keep = [d for d in range(v.dim()) if g.shape[d] != 1]
    if len(keep) > 1 or any(g.shape[d] != v.shape[d] for d in keep):
        raise ConvertError("%s: weight_g shape %r does not fit weight_v %r" % (what, tuple(g.shape), tuple(v.shape)))
    dim = keep[0] if keep else (2 if v.shape[2] == 1 else -1)
    return torch._weight_norm(v, g, dim).to(torch.float32)  # folded in float64, stored rounded


def pos_conv_weight(sd, base, used):
    """Reads base+'weight', or weight_g/weight_v, or parametrizations.weight.original0/1."""
    cand = [(base + "weight_g", base + "weight_v"),
            (base + "parametrizations.weight.original0", base + "parametrizations.weight.original1")]
    if base + "weight" in sd:
        used.add(base + "weight")
        return f32(sd[base + "weight"])
    for gk, vk in cand:
        if gk in sd and vk in sd:
            used.update((gk, vk))
            return fold_weight_norm(sd[gk], sd[vk], base + "weight")
    raise ConvertError("missing the positional conv weight: none of %sweight, %sweight_g/weight_v, "
                       "%sparametrizations.weight.original0/1" % (base, base, base))


def map_backbone(sd, prefix, enc, fp, source):
    """Maps a backbone state dict onto contract names.
    sd: name -> tensor; prefix: leading part of every backbone key ("wav2vec2." for HF
    Wav2Vec2ForSequenceClassification, "" or "model." for speechbrain, "" for torchaudio);
    enc: the transformer's root after prefix ("encoder." for HF, "encoder.transformer." for
    torchaudio); fp: the feature projection's root ("feature_projection." HF,
    "encoder.feature_projection." torchaudio). Returns (tensors, used keys)."""
    out = collections.OrderedDict()
    used = set()
    for k, t in sd.items():
        if not k.startswith(prefix):
            continue
        r = k[len(prefix):]
        if r.startswith("feature_extractor.conv_layers."):
            out[r] = f32(t)
        elif r.startswith(fp):
            out["encoder.feature_projection." + r[len(fp):]] = f32(t)
        elif r.startswith(enc + "pos_conv_embed.conv."):
            if r.endswith(".bias"):
                out["encoder.transformer.pos_conv_embed.conv.bias"] = f32(t)
            else:
                continue  # weight forms are handled below
        elif r.startswith(enc + "layer_norm.") or r.startswith(enc + "layers."):
            out["encoder.transformer." + r[len(enc):]] = f32(t)
        else:
            continue
        used.add(k)
    out["encoder.transformer.pos_conv_embed.conv.weight"] = pos_conv_weight(
        sd, prefix + enc + "pos_conv_embed.conv.", used)
    return out, used


def leftover_keys(sd, used, what, prefix=""):
    """Notes dropped pretraining tensors; raises on keys that would change the computation."""
    dropped, unknown = [], []
    for k in sd:
        if k in used:
            continue
        tail = k[len(prefix):] if prefix and k.startswith(prefix) else k
        if tail.startswith(("wav2vec2.", "model.")):
            tail = tail.split(".", 1)[1]
        if DROPPED.match(k) or DROPPED.match(tail) or re.search(r"(^|\.)num_batches_tracked$", k):
            dropped.append(k)
        else:
            unknown.append(k)
    if dropped:
        note("%s: dropped %d pretraining/other-head tensor(s): %s" % (
            what, len(dropped), ", ".join(sorted(dropped)[:6]) + (" ..." if len(dropped) > 6 else "")))
    if unknown:
        raise ConvertError("%s: tensors emo cannot place (they would change the computation): %s" % (
            what, ", ".join(sorted(unknown)[:12]) + (" ..." if len(unknown) > 12 else "")))


def count_indexed(tensors, pattern):
    idx = set()
    for k in tensors:
        m = re.match(pattern, k)
        if m:
            idx.add(int(m.group(1)))
    n = max(idx) + 1 if idx else 0
    if idx != set(range(n)):
        raise ConvertError("layer numbering has holes: %s" % sorted(idx))
    return n


def infer_backbone(t):
    """Config fields the contract-named tensors determine."""
    n_conv = count_indexed(t, r"^feature_extractor\.conv_layers\.(\d+)\.conv\.weight$")
    if n_conv == 0:
        raise ConvertError("missing feature_extractor.conv_layers.0.conv.weight")
    conv = [(int(t["feature_extractor.conv_layers.%d.conv.weight" % i].shape[0]),
             int(t["feature_extractor.conv_layers.%d.conv.weight" % i].shape[2])) for i in range(n_conv)]
    has_ln = [("feature_extractor.conv_layers.%d.layer_norm.weight" % i) in t for i in range(n_conv)]
    if all(has_ln):
        mode = "layer_norm" if n_conv > 1 else "group_norm"
    elif has_ln[0] and not any(has_ln[1:]):
        mode = "group_norm"
    else:
        raise ConvertError("feature extractor norms on layers %s fit neither group_norm (first only) "
                           "nor layer_norm (all)" % [i for i, h in enumerate(has_ln) if h])
    w = "encoder.feature_projection.projection.weight"
    if w not in t:
        raise ConvertError("missing %s" % w)
    d = int(t[w].shape[0])
    pw = t["encoder.transformer.pos_conv_embed.conv.weight"]
    if pw.dim() != 3 or pw.shape[1] == 0 or d % int(pw.shape[1]):
        raise ConvertError("encoder.transformer.pos_conv_embed.conv.weight: shape %r does not fit D %d"
                           % (tuple(pw.shape), d))
    n_layers = count_indexed(t, r"^encoder\.transformer\.layers\.(\d+)\.attention\.q_proj\.weight$")
    ffk = "encoder.transformer.layers.0.feed_forward.intermediate_dense.weight"
    if n_layers == 0 or ffk not in t:
        raise ConvertError("missing %s" % ffk)
    return {
        "conv_ck": conv, "extractor_mode": mode,
        "conv_bias": "feature_extractor.conv_layers.0.conv.bias" in t,
        "embed_dim": d, "num_layers": n_layers, "ff_dim": int(t[ffk].shape[0]),
        "pos_conv_kernel": int(pw.shape[2]), "pos_conv_groups": d // int(pw.shape[1]),
    }


def torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location="cpu")
    except Exception as e:
        raise ConvertError("%s: cannot load as a PyTorch state dict: %s" % (path, e))


def state_dict_of(obj, path):
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ConvertError("%s: not a state dict of tensors" % path)
    return obj


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ConvertError("%s: %s" % (path, e.strerror))
    except ValueError as e:
        raise ConvertError("%s: not valid JSON: %s" % (path, e))


def parse_labels_opt(s):
    return [x.strip() for x in s.split(",")] if s else None


# --------------------------------------------------------------------------- Hugging Face

HF_DEFAULTS = {  # transformers' Wav2Vec2Config defaults
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "hidden_act": "gelu", "feat_extract_norm": "group", "feat_extract_activation": "gelu",
    "conv_dim": [512] * 7, "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_bias": False, "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False, "use_weighted_layer_sum": False, "classifier_proj_size": 256,
    "layer_norm_eps": 1e-5, "add_adapter": False,
}


def hf_backbone_config(hc, path):
    """Backbone config from a transformers config.json dict (defaults filled, checked)."""
    defaulted = [k for k in HF_DEFAULTS if k not in hc]
    c = dict(HF_DEFAULTS)
    c.update(hc)
    mt = c.get("model_type", "wav2vec2")
    if mt != "wav2vec2":
        raise ConvertError("%s: model_type %r; only wav2vec2 is supported" % (path, mt))
    for k in ("hidden_act", "feat_extract_activation"):
        if c[k] != "gelu":
            raise ConvertError("%s: %s is %r; emo implements gelu (erf form) only" % (path, k, c[k]))
    if abs(float(c["layer_norm_eps"]) - 1e-5) > 1e-12:
        raise ConvertError("%s: layer_norm_eps %g; the contract fixes 1e-5" % (path, c["layer_norm_eps"]))
    if c["use_weighted_layer_sum"]:
        raise ConvertError("%s: use_weighted_layer_sum is true (a learned mix of all layers' outputs); "
                           "emo's contract pools the last hidden state only" % path)
    if c["add_adapter"]:
        raise ConvertError("%s: add_adapter is true; adapter layers are not supported" % path)
    if c["feat_extract_norm"] not in ("group", "layer"):
        raise ConvertError("%s: feat_extract_norm %r (want group or layer)" % (path, c["feat_extract_norm"]))
    if not (len(c["conv_dim"]) == len(c["conv_kernel"]) == len(c["conv_stride"])):
        raise ConvertError("%s: conv_dim, conv_kernel and conv_stride differ in length" % path)
    if defaulted:
        note("%s: absent, transformers defaults used: %s" % (path, ", ".join(defaulted)))
    return {
        "extractor_mode": c["feat_extract_norm"] + "_norm",
        "conv_layers": [(int(a), int(b), int(s)) for a, b, s in zip(c["conv_dim"], c["conv_kernel"], c["conv_stride"])],
        "conv_bias": bool(c["conv_bias"]),
        "embed_dim": int(c["hidden_size"]), "num_layers": int(c["num_hidden_layers"]),
        "num_heads": int(c["num_attention_heads"]), "ff_dim": int(c["intermediate_size"]),
        "pos_conv_kernel": int(c["num_conv_pos_embeddings"]),
        "pos_conv_groups": int(c["num_conv_pos_embedding_groups"]),
        "layer_norm_first": bool(c["do_stable_layer_norm"]),
        "classifier_proj_size": int(c["classifier_proj_size"]),
    }


def check_backbone_against_tensors(bb, inf, what):
    """bb: config from a config file; inf: infer_backbone() of the tensors."""
    got = {"conv channels/kernels": [(c, k) for c, k, _ in bb["conv_layers"]],
           "extractor_mode": bb["extractor_mode"], "conv_bias": bb["conv_bias"],
           "embed_dim": bb["embed_dim"], "num_layers": bb["num_layers"], "ff_dim": bb["ff_dim"],
           "pos_conv_kernel": bb["pos_conv_kernel"], "pos_conv_groups": bb["pos_conv_groups"]}
    have = {"conv channels/kernels": inf["conv_ck"], "extractor_mode": inf["extractor_mode"],
            "conv_bias": inf["conv_bias"], "embed_dim": inf["embed_dim"], "num_layers": inf["num_layers"],
            "ff_dim": inf["ff_dim"], "pos_conv_kernel": inf["pos_conv_kernel"],
            "pos_conv_groups": inf["pos_conv_groups"]}
    if bb["extractor_mode"] == "layer_norm" and len(bb["conv_layers"]) == 1:
        have["extractor_mode"] = "layer_norm"  # one conv layer: the two modes hold the same tensors
    for k in got:
        if got[k] != have[k]:
            raise ConvertError("%s: config says %s = %r, the tensors say %r" % (what, k, got[k], have[k]))


def load_hf_weights(d):
    st, pt = os.path.join(d, "model.safetensors"), os.path.join(d, "pytorch_model.bin")
    for index, reader in (("model.safetensors.index.json", read_safetensors_torch),
                          ("pytorch_model.bin.index.json", lambda p: state_dict_of(torch_load(p), p))):
        ip = os.path.join(d, index)
        if os.path.exists(ip):
            wm = read_json(ip).get("weight_map", {})
            sd = collections.OrderedDict()
            for shard in sorted(set(wm.values())):
                sd.update(reader(os.path.join(d, shard)))
            return sd, ip
    if os.path.exists(st):
        return read_safetensors_torch(st), st
    if os.path.exists(pt):
        return state_dict_of(torch_load(pt), pt), pt
    raise ConvertError("%s: no model.safetensors, pytorch_model.bin or sharded index" % d)


def from_hf(d, opts):
    cpath = os.path.join(d, "config.json")
    hc = read_json(cpath)
    arch = hc.get("architectures") or []
    if arch and "Wav2Vec2ForSequenceClassification" not in arch:
        note("%s: architectures %r (expected Wav2Vec2ForSequenceClassification)" % (cpath, arch))
    bb = hf_backbone_config(hc, cpath)
    sd, wpath = load_hf_weights(d)
    prefix = "wav2vec2."
    if prefix + "feature_projection.projection.weight" not in sd:
        raise ConvertError("%s: missing wav2vec2.feature_projection.projection.weight (not a "
                           "Wav2Vec2ForSequenceClassification checkpoint?)" % wpath)
    t, used = map_backbone(sd, prefix, "encoder.", "feature_projection.", wpath)
    for src, dst in (("projector.weight", "head.projector.weight"), ("projector.bias", "head.projector.bias"),
                     ("classifier.weight", "head.classifier.weight"), ("classifier.bias", "head.classifier.bias")):
        if src not in sd:
            raise ConvertError("%s: missing %s (the classification head)" % (wpath, src))
        t[dst] = f32(sd[src])
        used.add(src)
    if "layer_weights" in sd:
        raise ConvertError("%s: holds layer_weights (use_weighted_layer_sum); not supported" % wpath)
    leftover_keys(sd, used, wpath)
    check_backbone_against_tensors(bb, infer_backbone(t), wpath)

    n = int(t["head.classifier.weight"].shape[0])
    id2label = hc.get("id2label")
    if opts.labels:
        labels = opts.labels
    elif id2label:
        try:
            items = sorted((int(k), v) for k, v in id2label.items())
        except (ValueError, AttributeError):
            raise ConvertError("%s: id2label keys are not integers" % cpath)
        if [i for i, _ in items] != list(range(len(items))):
            raise ConvertError("%s: id2label keys are not 0..%d" % (cpath, len(items) - 1))
        labels = [str(v) for _, v in items]
    else:
        raise ConvertError("%s: no id2label; name the classes with --labels" % cpath)
    if len(labels) != n:
        raise ConvertError("%d labels but the classifier has %d outputs" % (len(labels), n))

    pp = os.path.join(d, "preprocessor_config.json")
    if opts.input_norm:
        inorm = opts.input_norm
        note("input_norm %s (from --input-norm)" % inorm)
    elif os.path.exists(pp):
        dn = read_json(pp).get("do_normalize", True)
        inorm = "zero_mean_unit_var" if dn else "none"
        note("input_norm %s (%s: do_normalize %s)" % (inorm, pp, dn))
    else:
        inorm = "zero_mean_unit_var"
        note("input_norm zero_mean_unit_var: no preprocessor_config.json, so do_normalize is taken "
             "as true (transformers' Wav2Vec2FeatureExtractor default); use --input-norm none if the "
             "model was trained on raw waveforms")
    if opts.output_norm not in (None, "none"):
        raise ConvertError("--output-norm applies to speechbrain models only")
    cfg = dict(bb)
    del cfg["classifier_proj_size"]
    cfg.update(input_norm=inorm, head="hf_seqcls", output_norm="none", labels=labels,
               proj_dim=int(t["head.projector.weight"].shape[0]))
    if cfg["proj_dim"] != bb["classifier_proj_size"]:
        raise ConvertError("%s: classifier_proj_size %d but projector.weight has %d rows"
                           % (cpath, bb["classifier_proj_size"], cfg["proj_dim"]))
    return Converted(cfg, t, "hf:" + os.path.basename(os.path.normpath(d)))


# --------------------------------------------------------------------------- speechbrain

def sb_yaml_facts(path):
    """Reads hyperparams.yaml as text: -> (hub name or None, output_norm list of bools)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConvertError("%s: %s" % (path, e.strerror))
    scalars = {}
    for m in re.finditer(r"^([A-Za-z_][\w]*)\s*:\s*([^\s#!][^\s#]*)\s*(#.*)?$", text, re.M):
        scalars.setdefault(m.group(1), m.group(2).strip("'\""))
    hub = scalars.get("wav2vec2_hub")
    if hub is None:
        m = re.search(r"^\s+source\s*:\s*([^#\n]+)", text, re.M)
        if m:
            v = m.group(1).strip()
            r = re.match(r"(!ref\s*)?<(\w+)>$", v)
            hub = scalars.get(r.group(2)) if r else v.strip("'\"")
    if hub and re.match(r"!ref", hub):
        hub = None
    norms = [m.group(1).lower() == "true"
             for m in re.finditer(r"^\s*output_norm\s*:\s*(True|False|true|false)\b", text, re.M)]
    return hub, norms


def sb_labels(path):
    labels = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("="):
                    break  # speechbrain writes extras (starting_index, ...) after a ==== line
                m = re.match(r"^(['\"])(.*)\1\s*=>\s*(\d+)$", line)
                if m:
                    i = int(m.group(3))
                    if i in labels:
                        raise ConvertError("%s: index %d appears twice" % (path, i))
                    labels[i] = m.group(2)
                elif line:
                    raise ConvertError("%s: cannot read line %r (want 'label' => index)" % (path, line))
    except OSError as e:
        raise ConvertError("%s: %s" % (path, e.strerror))
    if sorted(labels) != list(range(len(labels))) or not labels:
        raise ConvertError("%s: indices %s are not 0..n-1" % (path, sorted(labels)))
    return [labels[i] for i in range(len(labels))]


def sb_find_prefix(sd, path):
    for p in ("", "model.", "wav2vec2.", "model.wav2vec2.", "mods.wav2vec2.model."):
        if p + "feature_projection.projection.weight" in sd:
            return p
    raise ConvertError("%s: no feature_projection.projection.weight under any known prefix "
                       "('', 'model.', 'model.wav2vec2.'): not a wav2vec2 checkpoint?" % path)


def from_speechbrain(d, opts):
    ypath = os.path.join(d, "hyperparams.yaml")
    hub, norms = sb_yaml_facts(ypath)
    wpath = os.path.join(d, "wav2vec2.ckpt")
    if not os.path.exists(wpath):
        raise ConvertError("%s: missing (the wav2vec2 backbone's state dict)" % wpath)
    sd = state_dict_of(torch_load(wpath), wpath)
    prefix = sb_find_prefix(sd, wpath)
    t, used = map_backbone(sd, prefix, "encoder.", "feature_projection.", wpath)
    leftover_keys(sd, used, wpath, prefix)

    # head: one linear layer without bias
    hpath = None
    for name in ("model.ckpt", "output_mlp.ckpt"):
        if os.path.exists(os.path.join(d, name)):
            hpath = os.path.join(d, name)
            break
    if hpath is None:
        raise ConvertError("%s: missing model.ckpt or output_mlp.ckpt (the output linear layer)" % d)
    hsd = state_dict_of(torch_load(hpath), hpath)
    ws = [k for k in hsd if re.search(r"(^|\.)w\.weight$", k)]
    if len(ws) != 1:
        raise ConvertError("%s: want exactly one linear layer '...w.weight', found %r" % (hpath, sorted(hsd)))
    bias = [k for k in hsd if re.search(r"(^|\.)w\.bias$", k)]
    if bias:
        raise ConvertError("%s: the linear layer has a bias (%s); the sb_linear head has none" % (hpath, bias[0]))
    other = [k for k in hsd if k not in ws]
    if other:
        raise ConvertError("%s: tensors besides the linear layer: %s (a deeper head is not supported)"
                           % (hpath, ", ".join(other)))
    w = hsd[ws[0]]
    if w.dim() != 2:
        raise ConvertError("%s: %s has shape %r, want (n_labels, D)" % (hpath, ws[0], tuple(w.shape)))
    t["head.classifier.weight"] = f32(w)

    inf = infer_backbone(t)
    # what the tensors cannot say: strides, heads, layer_norm_first
    if opts.hf_config:
        bb = hf_backbone_config(read_json(opts.hf_config), opts.hf_config)
        check_backbone_against_tensors(bb, inf, opts.hf_config)
        strides = [s for _, _, s in bb["conv_layers"]]
        heads, lnf = bb["num_heads"], bb["layer_norm_first"]
        note("backbone config from %s" % opts.hf_config)
    else:
        known = None
        for rx, dim, h, l in HUB_DEFAULTS:
            if hub and re.search(rx, hub):
                known = (dim, h, l)
                break
        if known and known[0] != inf["embed_dim"]:
            note("hub %s has D %d but the tensors have D %d: ignoring the hub's defaults" % (hub, known[0], inf["embed_dim"]))
            known = None
        heads = opts.num_heads or (known[1] if known else None)
        lnf = opts.layer_norm_first if opts.layer_norm_first is not None else (known[2] if known else None)
        if heads is None or lnf is None:
            raise ConvertError("%s: backbone %r is not one this converter knows; give --hf-config "
                               "(its config.json) or --num-heads and --layer-norm-first" % (ypath, hub))
        if opts.conv_strides:
            strides = opts.conv_strides
        elif len(inf["conv_ck"]) == len(STD_STRIDES):
            strides = STD_STRIDES
        else:
            raise ConvertError("%d conv layers: give their strides with --conv-strides" % len(inf["conv_ck"]))
        by_flag = opts.num_heads or opts.layer_norm_first is not None or opts.conv_strides
        note("backbone %s: num_heads %d, layer_norm_first %d, conv strides %s (%s)" % (
            hub, heads, lnf, ",".join(map(str, strides)),
            "command line and hub defaults" if by_flag else "hub defaults"))
    if len(strides) != len(inf["conv_ck"]):
        raise ConvertError("%d conv strides for %d conv layers" % (len(strides), len(inf["conv_ck"])))

    # normalisations (see the module docstring)
    if opts.output_norm:
        onorm = opts.output_norm
        note("output_norm %s (from --output-norm)" % onorm)
    else:
        if len(set(norms)) != 1:
            raise ConvertError("%s: output_norm is %s; say which with --output-norm" % (
                ypath, "absent" if not norms else "given differently in several places"))
        onorm = "layer_norm_all" if norms[0] else "none"
        note("output_norm %s (%s: output_norm %s; speechbrain %s normalises the whole (frames, dim) "
             "hidden state of one utterance jointly)" % (
                 onorm, ypath, norms[0], "< 1.0" if opts.speechbrain_version == 0 else ">= 1.0"))
    if opts.input_norm:
        inorm = opts.input_norm
        note("input_norm %s (from --input-norm)" % inorm)
    else:
        inorm = "layer_norm"
        note("input_norm layer_norm (speechbrain's F.layer_norm of the waveform, applied when the "
             "backbone's feature extractor has do_normalize, true for the wav2vec2 base and large "
             "checkpoints; --input-norm none otherwise)")

    labels = opts.labels or sb_labels(os.path.join(d, "label_encoder.txt"))
    n = int(w.shape[0])
    if len(labels) != n:
        raise ConvertError("%d labels but %s has %d outputs" % (len(labels), ws[0], n))
    cfg = {
        "extractor_mode": inf["extractor_mode"],
        "conv_layers": [(c, k, s) for (c, k), s in zip(inf["conv_ck"], strides)],
        "conv_bias": inf["conv_bias"], "embed_dim": inf["embed_dim"], "num_layers": inf["num_layers"],
        "num_heads": int(heads), "ff_dim": inf["ff_dim"], "pos_conv_kernel": inf["pos_conv_kernel"],
        "pos_conv_groups": inf["pos_conv_groups"], "layer_norm_first": bool(lnf),
        "input_norm": inorm, "head": "sb_linear", "output_norm": onorm, "labels": labels,
    }
    return Converted(cfg, t, "speechbrain%d:%s" % (opts.speechbrain_version, os.path.basename(os.path.normpath(d))))


# --------------------------------------------------------------------------- torchaudio

def torchaudio_config(raw, what="config"):
    """Our config dict from a JSON dict in our names or torchaudio's keyword names."""
    cfg = {}
    for ours, theirs in TORCHAUDIO_CONFIG.items():
        if ours in raw:
            cfg[ours] = raw[ours]
        elif theirs and theirs in raw:
            cfg[ours] = raw[theirs]
    cfg.setdefault("output_norm", "none")
    missing = [k for k in TORCHAUDIO_CONFIG if k not in cfg]
    if missing:
        raise ConvertError("%s: missing %s" % (what, ", ".join(missing)))
    if cfg["conv_layers"] is None:
        cfg["conv_layers"] = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2  # torchaudio's default
    cfg["conv_layers"] = [tuple(int(v) for v in l) for l in cfg["conv_layers"]]
    cfg["conv_bias"] = bool(cfg["conv_bias"])
    cfg["layer_norm_first"] = bool(cfg["layer_norm_first"])
    cfg["labels"] = [str(x) for x in cfg["labels"]]
    return cfg


def torchaudio_model(cfg):
    """A torchaudio Wav2Vec2Model (eval mode, no dropout) of our config dict: the one place that
    maps our names onto torchaudio.models.wav2vec2_model's (used by the fixtures and the bench)."""
    import torchaudio
    m = torchaudio.models.wav2vec2_model(
        extractor_mode=cfg["extractor_mode"], extractor_conv_layer_config=cfg["conv_layers"],
        extractor_conv_bias=cfg["conv_bias"], encoder_embed_dim=cfg["embed_dim"],
        encoder_projection_dropout=0.0, encoder_pos_conv_kernel=cfg["pos_conv_kernel"],
        encoder_pos_conv_groups=cfg["pos_conv_groups"], encoder_num_layers=cfg["num_layers"],
        encoder_num_heads=cfg["num_heads"], encoder_attention_dropout=0.0,
        encoder_ff_interm_features=cfg["ff_dim"], encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0, encoder_layer_norm_first=cfg["layer_norm_first"],
        encoder_layer_drop=0.0, aux_num_out=None)
    return m.eval()


def from_torchaudio(sd, raw_cfg, opts=None, source="torchaudio", head=None):
    """sd: torchaudio Wav2Vec2Model state dict (name -> tensor), possibly with head.* tensors;
    head: optional extra dict of head.* tensors; raw_cfg: dict (see TORCHAUDIO_CONFIG)."""
    opts = opts or default_options()
    sd = collections.OrderedDict(sd)
    if head:
        sd.update(head)
    cfg = torchaudio_config(raw_cfg)
    if opts.input_norm:
        cfg["input_norm"] = opts.input_norm
    if opts.output_norm:
        cfg["output_norm"] = opts.output_norm
    if opts.labels:
        cfg["labels"] = opts.labels
    t, used = map_backbone(sd, "", "encoder.transformer.", "encoder.feature_projection.", source)
    names = ["head.classifier.weight"] + (["head.projector.weight", "head.projector.bias", "head.classifier.bias"]
                                          if cfg["head"] == "hf_seqcls" else [])
    for n in names:
        if n not in sd:
            raise ConvertError("%s: missing %s (the %s head)" % (source, n, cfg["head"]))
        t[n] = f32(sd[n])
        used.add(n)
    leftover_keys(sd, used, source)
    if cfg["head"] == "hf_seqcls":
        cfg["proj_dim"] = int(t["head.projector.weight"].shape[0])
    return Converted(cfg, t, source)


# --------------------------------------------------------------------------- command line

def default_options(**kw):
    o = argparse.Namespace(dtype="f32", input_norm=None, output_norm=None, labels=None, hf_config=None,
                           num_heads=None, conv_strides=None, layer_norm_first=None, speechbrain_version=0)
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="wav2vec2_convert.py",
        description="Convert a wav2vec 2.0 emotion checkpoint into emo's safetensors file "
                    "(src/audio/wav2vec2.h).",
        epilog="Then: emo audio --ser-model OUT.safetensors FILE")
    sub = ap.add_subparsers(dest="source", required=True)
    p_hf = sub.add_parser("hf", help="Hugging Face Wav2Vec2ForSequenceClassification directory")
    p_hf.add_argument("dir")
    p_sb = sub.add_parser("speechbrain", help="speechbrain emotion-recognition-wav2vec2 directory")
    p_sb.add_argument("dir")
    p_sb.add_argument("--speechbrain-version", type=int, choices=(0, 1), default=0,
                      help="speechbrain major version the model runs under (0: < 1.0, default; "
                           "1: >= 1.0); for one utterance both normalise the same way")
    p_sb.add_argument("--hf-config", help="the backbone's transformers config.json (else the hub "
                                          "name in hyperparams.yaml and the tensors decide)")
    p_sb.add_argument("--num-heads", type=int)
    p_sb.add_argument("--conv-strides", type=lambda s: [int(x) for x in s.split(",")])
    p_sb.add_argument("--layer-norm-first", type=int, choices=(0, 1))
    p_ta = sub.add_parser("torchaudio", help="torchaudio Wav2Vec2Model state dict + JSON config")
    p_ta.add_argument("state_dict")
    p_ta.add_argument("config")
    for p in (p_hf, p_sb, p_ta):
        p.add_argument("-o", "--output", required=True, help="the .safetensors file to write")
        p.add_argument("--dtype", choices=("f32", "f16"), default="f32")
        p.add_argument("--input-norm", choices=INPUT_NORMS)
        p.add_argument("--output-norm", choices=OUTPUT_NORMS)
        p.add_argument("--labels", type=parse_labels_opt, help="comma-separated class names in logit order")
    a = ap.parse_args(argv)
    if torch is None:
        print("wav2vec2_convert: needs PyTorch (Debian: apt-get install python3-torch)", file=sys.stderr)
        return 1
    opts = default_options(**{k: v for k, v in vars(a).items() if k in vars(default_options())})
    try:
        if a.source == "hf":
            m = from_hf(a.dir, opts)
        elif a.source == "speechbrain":
            m = from_speechbrain(a.dir, opts)
        else:
            sd = state_dict_of(torch_load(a.state_dict), a.state_dict)
            m = from_torchaudio(sd, read_json(a.config), opts, source="torchaudio:" + os.path.basename(a.state_dict))
        m.write(a.output, a.dtype)
    except ConvertError as e:
        print("wav2vec2_convert: error: %s" % e, file=sys.stderr)
        return 1
    print(m.summary(a.dtype))
    print("wrote            %s (%d bytes)" % (a.output, os.path.getsize(a.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
