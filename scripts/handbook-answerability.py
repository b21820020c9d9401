#!/usr/bin/env python3
"""Can a signal from the handbook's own model tell a near miss from an answerable question?

Reads the candidates that `cargo bench --bench handbook -- --dump FILE` wrote (every passage
of every question, with its scores and text) and measures, for each "nothing found" signal:
how well it separates answerable from unanswerable Osio questions (AUC over both halves), and
the rates on each half with the threshold chosen on the `dev` half (at most 4 of its 81
answerable questions refused, i.e. 5%), and, as an upper bound, how many unanswerable ones
the threshold that refuses 5% of all answerable questions would catch.

Signals: today's confidence (best cosine similarity + 0.3 x BM25 relevance) and its parts,
the same with each passage's closest-sentence similarity (`closest`, `cconf`),
and concept coverage: each content word of the question (stop words removed) is matched
against the contextual token vectors of the top passage(s) (BERTScore-style recall, last layer
of all-MiniLM-L6-v2, run here in numpy); `cov1min` is the weakest word's best match in the
top passage, `cov3mean` the mean over the top three passages' tokens, and so on.

    HANDBOOK_EMBEDDING_MODEL_DIR=DIR cargo bench --profile dev --bench handbook -- \
        --sizes 0 --configured-sizes 0 --sets sample,osio,tests/handbook_questions_unseen.json,\
        tests/osio_questions_unseen.json --dump /tmp/handbook-dump.jsonl
    pip install numpy tokenizers safetensors
    python3 scripts/handbook-answerability.py /tmp/handbook-dump.jsonl DIR
"""
import itertools
import json
import math
import re
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

STOP = set("""a an and are as at be but by for if in into is it no not of on or such that the their
then there these they this to was will with what whats which who whom whose when where why how do
does did done can could would should shall may might must i me my mine we us our ours you your
yours he she him her his its them am were been being have has had having get gets got getting s t
d ll re ve m any some all here about from up out so than too very just also only own same other
isn aren don doesn didn won wouldn shouldn couldn cannot let lets like want need know tell okay ok
please anyone someone something anything one much many more most company companies employee
employees staff team osio labs""".split())


class MiniLM:
    """all-MiniLM-L6-v2 (BERT, 6 layers) in numpy; GELU by its tanh approximation."""

    def __init__(self, folder):
        self.w = load_file(f"{folder}/model.safetensors")
        self.tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
        self.tok.no_padding()
        self.tok.enable_truncation(256)
        self.cache = {}

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _ln(self, x, name):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def encode(self, text):
        """Tokens, their word numbers, and the last layer's unit-length token vectors."""
        if text in self.cache:
            return self.cache[text]
        e = self.tok.encode(text)
        w, n = self.w, len(e.ids)
        x = (w["embeddings.word_embeddings.weight"][e.ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            heads = [self._lin(x, p + f"attention.self.{k}").reshape(n, 12, 32).transpose(1, 0, 2)
                     for k in ("query", "key", "value")]
            a = heads[0] @ heads[1].transpose(0, 2, 1) / math.sqrt(32)
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            c = (a @ heads[2]).transpose(1, 0, 2).reshape(n, 384)
            x = self._ln(self._lin(c, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
            x = self._ln(self._lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        self.cache[text] = (e.tokens, e.word_ids, x)
        return self.cache[text]


def content_words(encoded):
    tokens, word_ids, x = encoded
    groups = {}
    for i, w in enumerate(word_ids):
        if w is not None:
            groups.setdefault(w, []).append(i)
    for idx in groups.values():
        word = "".join(tokens[i].replace("##", "") for i in idx)
        if re.search("[a-z0-9]", word) and word not in STOP:
            v = x[idx].mean(0)
            yield v / np.linalg.norm(v)


def passage_tokens(encoded):
    tokens, word_ids, x = encoded
    keep = [i for i, w in enumerate(word_ids) if w is not None and re.search("[a-z0-9]", tokens[i])]
    return x[keep]


def features(row, model):
    c = row["candidates"]
    sims = [p["similarity"] for p in c if p["similarity"] is not None]
    farthest = min(sims, default=0.0)
    sim = lambda p: p["similarity"] if p["similarity"] is not None else farthest
    closest = [p["closest"] for p in c if p.get("closest") is not None]
    near = lambda p: p["closest"] if p.get("closest") is not None else min(closest, default=0.0)
    f = {
        "conf": max((sim(p) + 0.3 * p["relevance"] for p in c), default=0.0),
        "sim": max(sims, default=0.0),
        "relmax": max((p["relevance"] for p in c), default=0.0),
        "closest": max(closest, default=0.0),
        "cconf": max((near(p) + 0.3 * p["relevance"] for p in c), default=0.0),
    }
    words = list(content_words(model.encode(row["question"])))
    for k in (1, 3):
        texts = [" › ".join(p["path"]) + "\n" + p["text"] for p in c[:k]]
        if not words or not texts:
            f[f"cov{k}min"] = f[f"cov{k}mean"] = 0.0 if not texts else 1.0
            continue
        t = np.concatenate([passage_tokens(model.encode(s)) for s in texts])
        best = np.array([float((t @ v).max()) for v in words])
        f[f"cov{k}min"], f[f"cov{k}mean"] = best.min(), best.mean()
    return f


def main(dump, model_dir):
    rows = [json.loads(line) for line in open(dump)]
    model = MiniLM(model_dir)
    for r in rows:
        r["f"] = features(r, model)
        r["group"] = (
            "off-topic" if r.get("off_topic")
            else "sample" if r["set"] == "sample"
            else "unseen-sample" if r["set"].endswith("handbook_questions_unseen.json")
            else "unseen-osio" if r["set"].endswith("osio_questions_unseen.json")
            else r.get("split")
        )
    groups = ["sample", "dev", "test", "off-topic", "unseen-sample", "unseen-osio"]

    def rates(refuse):
        out = []
        for g in groups:
            a = [r for r in rows if r["group"] == g and r["answerable"]]
            u = [r for r in rows if r["group"] == g and not r["answerable"]]
            ans = f"{sum(map(refuse, a))}/{len(a)} " if a else ""
            out.append(f"{g} {ans}{sum(map(refuse, u))}/{len(u)}")
        return " | ".join(out)

    osio = [r for r in rows if r["group"] in ("dev", "test")]
    dev = [r for r in rows if r["group"] == "dev"]
    print("refused (answerable, unanswerable) per group; threshold chosen on dev")
    print(f"{'today: conf < 0.37':44} AUC  -    | {rates(lambda r: r['f']['conf'] < 0.37)}")
    names = list(rows[0]["f"])
    for f in names:
        a = [r["f"][f] for r in osio if r["answerable"]]
        u = [r["f"][f] for r in osio if not r["answerable"]]
        auc = np.mean([(x > y) + 0.5 * (x == y) for x in a for y in u])
        # The best it could do: the threshold that refuses 5% of all answerable questions.
        best = sum(x < sorted(a)[len(a) // 20] for x in u)
        dev_a = sorted(r["f"][f] for r in dev if r["answerable"])
        t = dev_a[4]
        print(f"{f + f' < {t:.3f}':44} AUC {auc:.3f} | {rates(lambda r: r['f'][f] < t)}"
              f" | at best {best}/{len(u)}")
    for f1, f2 in itertools.product(["conf", "sim"], [n for n in names if n.startswith("cov")]):
        best = None
        a1 = sorted(r["f"][f1] for r in dev if r["answerable"])[:6]
        a2 = sorted(r["f"][f2] for r in dev if r["answerable"])[:6]
        for t1, t2 in itertools.product(a1, a2):
            refuse = lambda r: r["f"][f1] < t1 or r["f"][f2] < t2
            if sum(refuse(r) for r in dev if r["answerable"]) > 4:
                continue
            caught = sum(refuse(r) for r in dev if not r["answerable"])
            if best is None or caught > best[0]:
                best = (caught, t1, t2)
        if best:
            _, t1, t2 = best
            name = f"{f1} < {t1:.3f} or {f2} < {t2:.3f}"
            print(f"{name:44} AUC  -    | {rates(lambda r: r['f'][f1] < t1 or r['f'][f2] < t2)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
