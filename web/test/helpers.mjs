// Shared by the browser and Node tests: Python's answers, and the comparison with them.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const OUT = fileURLToPath(new URL("out/", import.meta.url)); // written by test/expected.py (pretest)
export const SOURCES = {
  page: new URL("../model/model.onnx", import.meta.url),
  "tiny-lstm": new URL("../../tests/data/tiny-lstm.onnx", import.meta.url),
  "tiny-bilstm": new URL("../../tests/data/tiny-bilstm.onnx", import.meta.url),
};
export const REVIEWS = 200;
export const ATOL = 1e-5; // the same tolerance as Python's export check

/** Python's ids and probabilities for a model; refused if the model changed since (stale). */
export function pythonAnswers(name) {
  const expected = JSON.parse(readFileSync(`${OUT}${name}/expected.json`, "utf-8"));
  const sha256 = createHash("sha256").update(readFileSync(SOURCES[name])).digest("hex");
  assert.equal(expected.sha256, sha256, `${name}: test/out is stale; run npm test (its pretest reruns test/expected.py)`);
  return expected;
}

/**
 * Does the one promise that may not hold: models whose int8 recipe quantizes activations at run
 * time (quantization without "batch_invariant": true, never shipped once #8 is merged) depend on
 * their batch and on the kernels, so they are compared but a difference is reported as a todo.
 */
export function exactnessPromised(expected) {
  return !expected.quantization || expected.quantization.batch_invariant === true;
}

/** Every text gets Python's words-v1 ids, exactly. */
export function assertSameIds(expected, got) {
  assert.equal(got.length, expected.cases.length);
  assert.ok(expected.cases.length - expected.edge_cases >= REVIEWS, "too few reviews compared");
  expected.cases.forEach((want, i) => {
    assert.deepEqual(got[i].ids, want.ids, `ids of case ${i}: ${JSON.stringify(want.text.slice(0, 60))}`);
  });
}

/** Every probability of every text within ATOL of Python's. Returns the largest difference. */
export function assertSameProbabilities(expected, got) {
  assert.equal(got.length, expected.cases.length);
  let worst = 0;
  let worstCase = -1;
  const over = [];
  expected.cases.forEach((want, i) => {
    assert.equal(got[i].probabilities.length, want.probabilities.length);
    const difference = Math.max(...want.probabilities.map((p, j) => Math.abs(got[i].probabilities[j] - p)));
    if (difference > worst) [worst, worstCase] = [difference, i];
    if (difference > ATOL) over.push(i);
  });
  assert.deepEqual(over, [], `${over.length} of ${got.length} texts differ from Python by more than ${ATOL}; ` +
    `largest ${worst.toExponential(2)} (case ${worstCase}: ${got[worstCase]?.probabilities} vs ${expected.cases[worstCase]?.probabilities})`);
  return worst;
}

export function summary(runtime, name, expected, got, times) {
  const reviews = times.slice(expected.edge_cases);
  const sorted = [...reviews].sort((a, b) => a - b);
  const mean = reviews.reduce((a, b) => a + b) / reviews.length;
  const python = expected.python_ms_per_review;
  return `${runtime} ${name}: ${got.length} texts; per review ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} ms median, ` +
    `${mean.toFixed(3)} ms mean (Python: ${python.median.toFixed(3)} ms median, ${python.mean.toFixed(3)} ms mean)`;
}
