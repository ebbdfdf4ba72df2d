"""The runtime against what a user would pick instead, side by side in one run, one thread:
PyTorch eager, onnxruntime fp32 and int8, OpenVINO (f32) and tract on the same exported file,
and fastText (``.ftz``, trained here on the same training split) on the same reviews.

    python scripts/checkpoint_from_onnx.py runtime/shipped/sentiment-en.int8.onnx runs/shipped/model.pt
    edgelstm export runs/shipped/model.pt -o runs/shipped   # model.onnx: the fp32 file
    edgelstm quantize runs/shipped/model.onnx -o runs/shipped/model.dynamic-all-s8.onnx \\
        --recipe dynamic-all-s8 --activation-int8
    python benchmarks/bench_runtime.py runs/shipped/model.pt runs/shipped/model.onnx \\
        runtime/shipped/sentiment-en.int8.onnx --also runs/shipped/model.dynamic-all-s8.onnx \\
        --data ../shared/datasets/aclImdb_v1_labeled.tar.gz --limit 5000 --out benchmarks/RESULTS.md

Tokenizing is timed in a table of its own (the same words-v1 code feeds every edgelstm row;
fastText reads the same words): the Classifier's path (``Tokenizer.encode_many``), the per-text
Python rule and Hugging Face ``tokenizers`` (``--only tokenizing``: that table alone). "Inference"
columns start from token ids. The share of the peak divides the model's arithmetic
(``flop_per_token`` x tokens / seconds) by one thread's float32 matmul rate (512 x 512,
onnxruntime's MLAS). Then: where the time goes (onnxruntime's profiler, per node, fp32,
batch 64 and batch 1), and 2 cores against 1 (``Classifier.predict``, ``edgelstm predict`` of a file of
those texts and of a large file: all the test texts, ``--large-file``).
Rounds interleave the models, so a busy moment of the machine is shared by all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

import edgelstm.tokenizer as tokenizer_module
from edgelstm import Classifier
from edgelstm.bench import _cpu_name, _median_cmd_seconds, _predict_command, flop_per_token, matmul_gflops
from edgelstm.config import ModelConfig
from edgelstm.data import load_labeled
from edgelstm.timing import median_length_text
from edgelstm.tokenizer import MANY_TEXTS, OOV_ID, Tokenizer, pad_batch, words

LATENCY_RUNS = 200
ROUNDS = 3
BATCH = 64


class _Feeds:
    """The inputs of one padded batch, named as the model wants them."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    def __call__(self, input_ids: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        feed = {"input_ids": input_ids, "lengths": lengths}
        if self.config.arch == "lstm" and self.config.format_version >= 2:
            zeros = np.zeros((len(lengths), self.config.hidden), np.float32)
            feed |= {"initial_h": zeros, "initial_c": zeros}
        return feed


class OpenVinoBackend:
    """The exported file in OpenVINO, f32 (as the conformance tests run it), one thread."""

    def __init__(self, path: Path, config: ModelConfig) -> None:
        import openvino as ov

        self.config = config
        self.feeds = _Feeds(config)
        self.compiled = ov.Core().compile_model(str(path), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0",
            "INFERENCE_NUM_THREADS": "1", "NUM_STREAMS": "1"})
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.output("probabilities")

    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self.request.infer(self.feeds(input_ids, lengths))[self.output]


class TractBackend:
    """The exported file in tract (its default single-threaded executor)."""

    def __init__(self, path: Path, config: ModelConfig) -> None:
        import tract

        model = tract.onnx().load(str(path))
        self.inputs = [model.input_name(i) for i in range(model.input_count())]
        self.outputs = [model.output_name(i) for i in range(model.output_count())]
        self.runnable = model.into_model().into_runnable()
        self.config = config
        self.feeds = _Feeds(config)

    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        feed = self.feeds(input_ids, lengths)
        result = self.runnable.run([feed[name] for name in self.inputs])
        return result[self.outputs.index("probabilities")].to_numpy()


class FastText:
    """fastText supervised (words-v1 words, bigrams, dim 50, 10 epochs, seed 0, quantized .ftz)
    as benchmarks/baselines.py trains it, on the same training split."""

    def __init__(self, train_texts: list[str], train_labels: list[str]) -> None:
        import fasttext
        from baselines import FASTTEXT  # the script's folder is on sys.path

        order = np.random.default_rng(0).permutation(len(train_texts))  # aclImdb is read label by label
        with tempfile.TemporaryDirectory() as tmp:
            train_file = Path(tmp) / "train.txt"
            train_file.write_text("".join(f"__label__{train_labels[i]} {' '.join(words(train_texts[i]))}\n"
                                          for i in order), encoding="utf-8")
            self.model = fasttext.train_supervised(str(train_file), wordNgrams=2, **FASTTEXT)
            self.model.quantize(input=str(train_file), retrain=True, qnorm=True, cutoff=100_000, thread=1,
                                verbose=0)
            self.model.save_model(str(Path(tmp) / "model.ftz"))
            self.size_bytes = (Path(tmp) / "model.ftz").stat().st_size

    def encode(self, texts: list[str]) -> list[str]:
        return [" ".join(words(text)) for text in texts]

    def labels(self, lines: list[str]) -> list[str]:
        return [p[0].removeprefix("__label__") for p in self.model.predict(lines)[0]]


@dataclass
class Row:
    name: str
    size_bytes: int
    latency: list[float]  # batch-1 ms, tokenizing included
    seconds: float = float("inf")  # best round, tokenize + infer, batch 64
    infer_seconds: float = float("inf")  # best round, from token ids
    accuracy: float = 0.0


def _best(current: float, start: float) -> float:
    return min(current, time.perf_counter() - start)


def measure(classifiers: dict[str, Classifier], fasttext: FastText | None, texts: list[str],
            labels: list[str], sizes: dict[str, int]) -> list[Row]:
    """Every row on the same texts, round by round."""
    first = next(iter(classifiers.values()))
    probe = median_length_text(first, texts)
    sequences = first.encode(texts)
    rows = {name: Row(name, sizes[name], []) for name in classifiers}
    if fasttext:
        rows["fastText (.ftz, bigrams)"] = Row("fastText (.ftz, bigrams)", fasttext.size_bytes, [])
        lines = fasttext.encode(texts)
    for _ in range(ROUNDS):
        for name, classifier in classifiers.items():
            row = rows[name]
            classifier.predict([probe])  # warm up
            for _ in range(LATENCY_RUNS // ROUNDS):
                start = time.perf_counter()
                classifier.predict([probe])
                row.latency.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            probabilities = classifier.predict_proba(texts, BATCH)
            row.seconds = _best(row.seconds, start)
            start = time.perf_counter()
            classifier.predict_ids(sequences, BATCH)
            row.infer_seconds = _best(row.infer_seconds, start)
            row.accuracy = float(np.mean([classifier.labels[i] == y for i, y in zip(probabilities.argmax(1), labels)]))
        if fasttext:
            row = rows["fastText (.ftz, bigrams)"]
            for _ in range(LATENCY_RUNS // ROUNDS):
                start = time.perf_counter()
                fasttext.labels(fasttext.encode([probe]))
                row.latency.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            predicted = fasttext.labels(fasttext.encode(texts))
            row.seconds = _best(row.seconds, start)
            start = time.perf_counter()
            fasttext.labels(lines)
            row.infer_seconds = _best(row.infer_seconds, start)
            row.accuracy = float(np.mean([p == y for p, y in zip(predicted, labels)]))
    return list(rows.values())


def tokenizing(tokenizer: Tokenizer, texts: list[str], rounds: int = ROUNDS) -> list[str]:
    """µs per text of each way to tokenize the same texts (one thread, best of interleaved rounds)
    and whether each gives words-v1's ids (those of the rule itself, ``words``)."""
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers' Rust pool: one thread, as every row

    def as_given(result: Any) -> Any:
        return result

    # (name, run, its result as id lists, or None where it is not words-v1)
    def numpy_passes() -> Any:  # encode_many where the C extension is not built
        with mock.patch.object(tokenizer_module, "_native", None):
            return tokenizer.encode_many(texts)

    def rule() -> list[list[int]]:  # words-v1 as stated: the reference every row is checked against
        return [tokenizer.ids(words(text))[-tokenizer.max_len:] or [OOV_ID] for text in texts]

    c_loop = "C loop (`edgelstm._words`)" if tokenizer_module._native is not None else "**not built**: numpy passes"
    ways: list[tuple[str, Callable[[], Any], Callable[[Any], Any] | None]] = [
        (f"`Tokenizer.encode_many`: one {c_loop} over all texts (`Classifier.predict` of a list)",
         lambda: tokenizer.encode_many(texts), lambda result: result.tolist()),
        ("`Tokenizer.encode_many` without the C extension: numpy passes over all texts",
         numpy_passes, lambda result: result.tolist()),
        (f"`Tokenizer.encode`, text by text (C loops for ASCII texts; `predict` of under {MANY_TEXTS} texts)",
         lambda: [tokenizer.encode(text) for text in texts], as_given),
        ("the regex rule alone (`words` + ids)", rule, as_given),
    ]
    try:
        import tokenizers
        from tokenizers.models import WordLevel
        from tokenizers.normalizers import Lowercase
        from tokenizers.pre_tokenizers import WhitespaceSplit

        from edgelstm.export.tokenizer_json import UNK_TOKEN, encode_with, tokenizer_json
    except ImportError:  # the train extra brings tokenizers
        pass
    else:
        document = tokenizer_json(tokenizer.vocabulary, tokenizer.max_len)
        shipped = tokenizers.Tokenizer.from_str(json.dumps(document))
        minimal = tokenizers.Tokenizer(WordLevel(document["model"]["vocab"], unk_token=UNK_TOKEN))
        minimal.normalizer, minimal.pre_tokenizer = Lowercase(), WhitespaceSplit()
        ways += [
            ("Hugging Face `tokenizers` from the model's `tokenizer.json` (`encode_batch`)",
             lambda: encode_with(shipped, texts), as_given),
            ("`tokenizers` with only Lowercase + WhitespaceSplit (not words-v1: a lower bound)",
             lambda: minimal.encode_batch(texts, add_special_tokens=False), None),
        ]
    best = [float("inf")] * len(ways)
    results: list[Any] = [None] * len(ways)
    for _ in range(rounds):
        for i, (_, run, _) in enumerate(ways):
            start = time.perf_counter()
            results[i] = run()
            best[i] = _best(best[i], start)
    reference = rule()
    lines = [f"Tokenizing {len(texts)} test texts, one thread, best of {rounds} interleaved rounds:", "",
             "| | µs per text | words-v1's ids |", "| --- | ---: | :---: |"]
    for (name, _, ids), seconds, result in zip(ways, best, results):
        same = "–" if ids is None else "yes" if ids(result) == reference else "**no**"
        lines.append(f"| {name} | {seconds / len(texts) * 1e6:.1f} | {same} |")
    return lines


def profile(path: Path, config: ModelConfig, sequences: list[list[int]], top: int = 12,
            batch: int = BATCH) -> tuple[list[tuple[str, float]], float]:
    """(op and node name, share of the run) from onnxruntime's profiler, batches by length (a
    batch of 1: the texts in their order), and the share of the run outside every node's kernel
    (onnxruntime's per-node overhead: allocation, shape inference, the profiler's own)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i])) if batch > 1 else range(len(sequences))
        order = list(order)
        for start in range(0, len(order), batch):
            input_ids, lengths = pad_batch([sequences[i] for i in order[start:start + batch]])
            session.run(["probabilities"], _Feeds(config)(input_ids, lengths))
        events = json.loads(Path(session.end_profiling()).read_text())
    per_node: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_node[f"{event['args']['op_name']} `{event['name'].removesuffix('_kernel_time')}`"] += event["dur"]
    total = sum(e["dur"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    shares = sorted(((name, d / total) for name, d in per_node.items()), key=lambda item: -item[1])
    return shares[:top], 1 - sum(per_node.values()) / total


class _SleepingBackend:
    """A model that takes an idle core's time per text (about the int8 file's) without using it."""

    SECONDS_PER_TEXT = 300e-6

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        time.sleep(len(lengths) * self.SECONDS_PER_TEXT)  # releases the GIL, as onnxruntime's run does
        return np.zeros((len(lengths), len(self.config.labels)), np.float32)


def _predict_file_rows(path: Path, files: dict[str, list[str]], rounds: int) -> list[str]:
    """`edgelstm predict FILE` of each file (a text per line) and of an empty file on 1 and 2 cores,
    in fresh processes, interleaved: texts/s with the process, and past its start-up."""
    names = [*files, "empty"]
    best = {(threads, name): float("inf") for threads in (1, 2) for name in names}
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.txt" for name in names}
        for name, texts in [*files.items(), ("empty", [])]:
            paths[name].write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
        # As an installed edgelstm starts: its modules' bytecode cached (pip compiles it at install;
        # an editable install under PYTHONDONTWRITEBYTECODE would compile every module at every start).
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        command = [sys.executable, "-m", "edgelstm.cli", "predict", "--model", str(path)]
        subprocess.run(command + [str(paths["empty"])], check=True, capture_output=True, env=env)  # writes the bytecode
        for _ in range(rounds):
            for threads in (1, 2):
                for name in names:
                    start = time.perf_counter()
                    outputs[threads, name] = subprocess.run(command + [str(paths[name]), "--threads", str(threads)],
                                                            check=True, capture_output=True, env=env).stdout
                    best[threads, name] = _best(best[threads, name], start)
    rows = []
    for name, texts in files.items():
        n, one, two = len(texts), best[1, name], best[2, name]
        # Past start-up: the file's time less an empty file's (interpreter, imports, model load, exit).
        past = {threads: best[threads, name] - best[threads, "empty"] for threads in (1, 2)}
        same = "yes" if outputs[1, name] == outputs[2, name] else "**no**"
        rows += [
            f"| `edgelstm predict FILE`, {name} (process included) | {n / one:.0f} | {n / two:.0f} "
            f"| {one / two:.2f}x | {same} |",
            f"| `edgelstm predict FILE`, {name}, past its start-up (less an empty file's {best[1, 'empty']:.2f} s / "
            f"{best[2, 'empty']:.2f} s) | {n / past[1]:.0f} | {n / past[2]:.0f} | {past[1] / past[2]:.2f}x | – |",
        ]
    return rows


# A process of its own per core: loads the model, says "ready", waits for a line on stdin, then
# predicts the texts (a JSON list: no text is split or joined) once, one thread, and prints the seconds.
_ONE_PROCESS = """
import json, sys, time
from edgelstm import Classifier
model = Classifier.load(sys.argv[1], threads=1)
texts = json.loads(open(sys.argv[2], encoding="utf-8").read())
model.predict_proba(texts[:200])
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
model.predict_proba(texts)
print(time.perf_counter() - start, flush=True)
"""


def _processes_seconds(path: Path, texts: list[str], processes: int) -> float:
    """The wall time for ``processes`` separate processes, one thread each, started together, to
    predict ``texts`` each: the cores with nothing shared (no GIL, no session), but each process
    with its own copy of the model and the tokenizer's table in the caches."""
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        children = [subprocess.Popen([sys.executable, "-c", _ONE_PROCESS, str(path), str(texts_file)], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(processes)]
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        seconds = [float(child.communicate()[0]) for child in children]
    return max(seconds)


def two_cores(path: Path, texts: list[str], rounds: int = 3, large: list[str] | None = None) -> list[str]:
    """Classifier.predict and `edgelstm predict FILE` on 1 and 2 cores: texts/s and identical answers;
    and one process per core (_processes_seconds), the cores with nothing shared.
    ``large``: also `predict` of a file of these texts (the issue's "large file": all test reviews)."""
    from edgelstm.classifier import OnnxBackend

    one, two = Classifier.load(path, threads=1), Classifier.load(path, threads=2)
    intra = Classifier(OnnxBackend(path, threads=2))  # onnxruntime's 2 threads inside each batch
    # The same Python side (tokenizing, batching) with a backend that sleeps instead of computing:
    # what the GIL-held part allows on 2 cores, whatever else the machine runs.
    sleepy = {workers: Classifier(_SleepingBackend(one.config), workers=workers) for workers in (1, 2)}
    best = {1: float("inf"), 2: float("inf"), "intra": float("inf"), "sleep 1": float("inf"), "sleep 2": float("inf")}
    answers = {}
    processes = {1: float("inf"), 2: float("inf")}
    for _ in range(rounds):
        for threads, classifier in ((1, one), (2, two), ("intra", intra), ("sleep 1", sleepy[1]),
                                    ("sleep 2", sleepy[2])):
            start = time.perf_counter()
            answers[threads] = classifier.predict_proba(texts)
            best[threads] = _best(best[threads], start)
        for count in processes:
            processes[count] = min(processes[count], _processes_seconds(path, texts, count))
    n = len(texts)
    files = {f"{n} lines": texts} | ({f"{len(large)} lines": large} if large else {})
    return [
        f"{path.name}, {n} texts (and a file of {len(large)}), best of {rounds} interleaved rounds:" if large else
        f"{path.name}, {n} texts, best of {rounds} interleaved rounds:", "",
        "| | 1 core texts/s | 2 cores texts/s | 2 cores / 1 | same answers |", "| --- | ---: | ---: | ---: | :---: |",
        f"| `Classifier.predict` (list) | {n / best[1]:.0f} | {n / best[2]:.0f} | {best[1] / best[2]:.2f}x "
        f"| {'yes' if np.array_equal(answers[1], answers[2]) else '**no**'} |",
        f"| onnxruntime's 2 intra-op threads per batch, instead | {n / best[1]:.0f} | {n / best['intra']:.0f} "
        f"| {best[1] / best['intra']:.2f}x | {'yes' if np.array_equal(answers[1], answers['intra']) else '**no**'} |",
        *_predict_file_rows(path, files, rounds),
        f"| `Classifier.predict`, a backend that sleeps {_SleepingBackend.SECONDS_PER_TEXT * 1e6:.0f} µs per text "
        f"instead (the Python side alone) | {n / best['sleep 1']:.0f} | {n / best['sleep 2']:.0f} "
        f"| {best['sleep 1'] / best['sleep 2']:.2f}x | – |",
        # 2 processes each predict all n texts: 2n texts in the slower one's time
        f"| one process per core, one thread each, started together (nothing shared; a model copy each) "
        f"| {n / processes[1]:.0f} | {2 * n / processes[2]:.0f} | {2 * processes[1] / processes[2]:.2f}x | – |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("fp32", type=Path)
    parser.add_argument("int8", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="labeled texts with a train and a test split")
    parser.add_argument("--limit", type=int, help="a random subset of this many test texts")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another .onnx file of the same model as a row (e.g. another int8 recipe)")
    parser.add_argument("--no-fasttext", action="store_true")
    parser.add_argument("--train-limit", type=int, help="fastText learns from this many training texts (a sample)")
    parser.add_argument("--graphs", action="store_true",
                        help="also time the format-1 (sequence_lens) graph against today's, from the checkpoint")
    parser.add_argument("--out", type=Path, help="write the markdown here too")
    parser.add_argument("--large-file", type=int, metavar="N",
                        help="two cores: `edgelstm predict` of a file of N test texts too, if more than --limit "
                             "(default: all of them; 0: none)")
    parser.add_argument("--only", choices=["tokenizing", "two-cores"],
                        help="only that table: tokenizing (fp32's tokenizer) or two cores (the int8 file)")
    args = parser.parse_args()

    dataset = load_labeled(args.data)
    full = dataset.evaluation_split
    split = full.sample(args.limit) if args.limit else full
    # The "large file" for `edgelstm predict` on two cores: every test text once (no line
    # repeated), or a sample of --large-file; only where it is larger than the --limit texts' file.
    large_split = full.sample(args.large_file) if args.large_file is not None else full
    large = list(large_split.texts) if len(large_split) > len(split) else None
    texts, labels = list(split.texts), list(split.labels)
    fp32 = Classifier.load(args.fp32, threads=1)
    if args.only:
        table = tokenizing(fp32.tokenizer, texts) if args.only == "tokenizing" else two_cores(args.int8, texts,
                                                                                              large=large)
        print("\n".join(table))
        return
    int8 = Classifier.load(args.int8, threads=1)
    recipe = int8.config.quantization.recipe_name if int8.config.quantization else "?"
    classifiers = {
        "PyTorch eager (.pt)": Classifier.load(args.checkpoint, threads=1),
        "onnxruntime fp32": fp32,
        f"onnxruntime int8 ({recipe})": int8,
        "OpenVINO f32 (fp32 file)": Classifier(OpenVinoBackend(args.fp32, fp32.config)),
        "tract (fp32 file)": Classifier(TractBackend(args.fp32, fp32.config)),
    }
    paths = [args.checkpoint, args.fp32, args.int8, args.fp32, args.fp32]
    for path in args.also:
        also = Classifier.load(path, threads=1)
        quantization = also.config.quantization
        recipe = quantization.recipe_name if quantization else "fp32"
        invariant = "" if quantization is None or quantization.batch_invariant else ", answers depend on the batch"
        classifiers[f"onnxruntime {path.name} ({recipe}{invariant})"] = also
        paths.append(path)
    sizes = dict(zip(classifiers, paths))
    sizes = {name: path.stat().st_size for name, path in sizes.items()}
    train = dataset.train.sample(args.train_limit) if args.train_limit else dataset.train
    fasttext = None if args.no_fasttext else FastText(list(train.texts), list(train.labels))
    rows = measure(classifiers, fasttext, texts, labels, sizes)

    sequences = fp32.encode(texts)
    tokens = sum(len(s) for s in sequences)
    flop = flop_per_token(fp32.config)
    peak = matmul_gflops(1)
    load = os.getloadavg()
    lines = [
        f"Machine: {_cpu_name()}, {os.cpu_count()} cores, shared with other jobs (load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end); 1 thread per model; "
        f"Python {sys.version.split()[0]}. "
        f"{len(texts)} test texts, median {int(np.median([len(s) for s in sequences]))} tokens. "
        f"One-thread float32 matmul: {peak:.1f} GFLOP/s; the model needs {flop / 1000:.1f} kFLOP per token.",
        "",
        "| model | size | batch-1 p50 | batch-1 p99 | texts/s (batch 64) | inference only texts/s "
        "| share of matmul peak (inference only) | accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = rows[0]
    base_p50 = statistics.median(base.latency)
    for row in rows:
        p50 = statistics.median(row.latency)
        share = "–"
        if not row.name.startswith("fastText"):
            share = (f"{tokens * flop / row.seconds / 1e9 / peak:.0%} "
                     f"({tokens * flop / row.infer_seconds / 1e9 / peak:.0%})")
        lines.append(
            f"| {row.name} | {row.size_bytes / 1024:.0f} KiB | {p50:.3f} ms ({p50 / base_p50:.2f}x) "
            f"| {np.percentile(row.latency, 99):.3f} ms | {len(texts) / row.seconds:.0f} "
            f"({base.seconds / row.seconds:.2f}x) | {len(texts) / row.infer_seconds:.0f} | {share} "
            f"| {row.accuracy:.2%} |")
    for batch in (BATCH, 1):
        nodes, outside = profile(args.fp32, fp32.config, sequences if batch > 1 else sequences[:500], batch=batch)
        lines += ["", f"Where onnxruntime fp32's time goes (profiler, one thread, batch {batch}"
                      f"{' by length' if batch > 1 else ''}, share of the run; outside every kernel: {outside:.1%}):",
                  "", "| node | share |", "| --- | ---: |"]
        lines += [f"| {name} | {share:.1%} |" for name, share in nodes]
    lines += [""] + tokenizing(fp32.tokenizer, texts)
    lines += ["", "Two cores, the int8 file:", ""] + two_cores(args.int8, texts, large=large)
    with tempfile.TemporaryDirectory() as tmp:
        review = Path(tmp) / "one_review.txt"
        review.write_text(median_length_text(int8, texts).replace("\n", " ") + "\n", encoding="utf-8")
        cold = _median_cmd_seconds(_predict_command() + ["predict", "--model", str(args.int8), str(review)])
    torch_s = _median_cmd_seconds([sys.executable, "-c", "import torch"])
    lines += ["", f"Cold start of `edgelstm predict one_review.txt` (int8 file): {cold:.2f} s; "
                  f"`python -c \"import torch\"` alone: {torch_s:.2f} s."]
    if args.graphs:
        from legacy_graph_speed import graph_speed

        graphs, ratio = graph_speed(args.checkpoint, texts, threads=1)
        lines += ["", graphs, f"portable graph throughput (sorted) / sequence_lens graph's: {ratio:.0%}"]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
