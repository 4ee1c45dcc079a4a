#!/usr/bin/env python3
"""face_embed_mobilefacenet.py: rewrites human-models' mobilefacenet.json (TF.js graph of
sirius-ai's MobileFaceNet_TF, 192-d) into ops emo's TF.js reader (src/nn/tfjs_reader.c) knows,
for the evaluation in dev/face_embed_eval.c only. Nothing in the library depends on it.

Rewrites (numerically the same function, up to float rounding):
  - 'FusedDepthwiseConv2dNative' (the converter's spelling) -> '_FusedDepthwiseConv2dNative';
  - PReLU written as relu(x) + m * (x - |x|): the Abs node is dropped and 'x - |x|' becomes
    Minimum(x, 0) * 2 (x - |x| = 2 min(x, 0)), so no Abs op is needed;
  - the final Squeeze -> Reshape to (1, 192); the L2 normalisation (Square, Sum, Maximum,
    Rsqrt, Mul) is cut off: the evaluation normalises every descriptor itself.
New constants (0, 2, the reshape shape) go to an extra weight shard written beside the copy.

Usage: face_embed_mobilefacenet.py SRC_DIR DST_DIR   (SRC_DIR has mobilefacenet.json/.bin)
"""
import json
import os
import shutil
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    j = json.load(open(os.path.join(src, "mobilefacenet.json")))
    nodes = j["modelTopology"]["node"]
    by_name = {n["name"]: n for n in nodes}
    extra = []  # (name, dtype, shape, bytes)

    def const(name, dtype, shape, values):
        fmt = "<%d%s" % (len(values), "i" if dtype == "int32" else "f")
        extra.append((name, dtype, shape, struct.pack(fmt, *values)))
        tf_dtype = "DT_INT32" if dtype == "int32" else "DT_FLOAT"
        nodes.append({"name": name, "op": "Const",
                      "attr": {"value": {"tensor": {"dtype": tf_dtype,
                                                    "tensorShape": {"dim": [{"size": str(s)} for s in shape]}}},
                               "dtype": {"type": tf_dtype}}})

    const("emo_eval/zero", "float32", [], [0.0])
    const("emo_eval/two", "float32", [], [2.0])
    # the descriptor width: output channels of the last 1x1 convolution (192 here)
    dim = [w["shape"][-1] for g in j["weightsManifest"] for w in g["weights"]
           if w["name"] == "MobileFaceNet/Logits/LinearConv1x1/Conv2D_weights"][0]
    const("emo_eval/shape", "int32", [2], [1, dim])
    drop = set()
    for n in list(nodes):
        if n["op"] == "FusedDepthwiseConv2dNative":
            n["op"] = "_FusedDepthwiseConv2dNative"
        elif n["op"] == "Abs":
            drop.add(n["name"])
        elif n["op"] == "Squeeze":
            n["op"] = "Reshape"
            n["input"] = [n["input"][0], "emo_eval/shape"]
            n.pop("attr", None)
    for n in list(nodes):
        if n["op"] == "Sub" and len(n["input"]) == 2 and n["input"][1] in drop:
            x = n["input"][0]
            mname = n["name"] + "/emo_min"
            nodes.append({"name": mname, "op": "Minimum", "input": [x, "emo_eval/zero"],
                          "attr": {"T": {"type": "DT_FLOAT"}}})
            n["op"] = "Mul"
            n["input"] = [mname, "emo_eval/two"]
    tail = {"embeddings/Square", "embeddings/Sum", "embeddings/Maximum", "embeddings/Rsqrt",
            "embeddings"}
    nodes[:] = [n for n in nodes if n["name"] not in drop and n["name"] not in tail]
    for n in nodes:
        if n["name"] == "MobileFaceNet/Logits/SpatialSqueeze":
            n["name"] = "embeddings"
    j.pop("userDefinedMetadata", None)
    shard = "mobilefacenet-emo-extra.bin"
    j["weightsManifest"].append({"paths": [shard], "weights": [
        {"name": e[0], "shape": e[2], "dtype": e[1]} for e in extra]})
    with open(os.path.join(dst, shard), "wb") as f:
        for e in extra:
            f.write(e[3])
    for p in j["weightsManifest"][0]["paths"]:
        if not os.path.exists(os.path.join(dst, p)):
            shutil.copyfile(os.path.join(src, p), os.path.join(dst, p))
    json.dump(j, open(os.path.join(dst, "mobilefacenet-emo.json"), "w"))
    print("wrote", os.path.join(dst, "mobilefacenet-emo.json"))


if __name__ == "__main__":
    main()
