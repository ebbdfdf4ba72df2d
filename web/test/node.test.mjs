// The JS module on onnxruntime-node gives Python's answers (ids identical, probabilities <= 1e-5).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { load } from "../edgelstm.js";
import { OUT, SOURCES, assertSameIds, assertSameProbabilities, exactnessPromised, pythonAnswers, summary } from "./helpers.mjs";

for (const name of Object.keys(SOURCES)) {
  const expected = pythonAnswers(name);
  const model = await load(`${OUT}${name}/model.onnx`, { sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
  const got = [];
  const times = [];
  for (const { text } of expected.cases) {
    const start = performance.now();
    got.push(await model.classify(text));
    times.push(performance.now() - start);
  }

  test(`node ${name}: labels from the model's metadata, ids identical to Python's`, () => {
    assert.deepEqual(model.config.labels, expected.labels);
    assertSameIds(expected, got);
  });

  const todo = !exactnessPromised(expected) && "run-time activation quantization: answers depend on kernels";
  test(`node ${name}: probabilities within 1e-5 of Python's`, { todo }, () => {
    console.log(summary("node", name, expected, got, times));
    const worst = assertSameProbabilities(expected, got);
    console.log(`node ${name}: largest difference from Python ${worst.toExponential(2)}`);
  });

  test(`node ${name}: a padded batch of every text gives Python's answers (within 1e-5)`, { todo }, async () => {
    const batched = await model.classifyBatch(expected.cases.map((c) => c.text));
    const worst = assertSameProbabilities(expected, batched);
    console.log(`node ${name}: padded batch of ${batched.length}, largest difference from Python ${worst.toExponential(2)}`);
  });
}

// A scratch folder for `use`, removed afterwards whatever happens: `npm test` leaves nothing in /tmp.
async function withScratchFolder(use) {
  const dir = await mkdtemp(join(tmpdir(), "edgelstm-"));
  try {
    await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return dir;
}

test("load refuses a file that is not an edgelstm model, and leaves no scratch folder", async () => {
  const dir = await withScratchFolder(async (dir) => {
    await writeFile(join(dir, "model.onnx"), Uint8Array.of(0x08, 0x07)); // ModelProto { ir_version: 7 }
    await writeFile(join(dir, "tokenizer.json"), "{}");
    await assert.rejects(load(join(dir, "model.onnx")), /not an edgelstm model/);
  });
  assert.equal(existsSync(dir), false, `${dir} was left behind`);
});
