// The tokenizer golden vectors (tests/data/golden-tokenizer.json), the same file Python checks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { wordsV1 } from "../edgelstm.js";

const golden = JSON.parse(readFileSync(new URL("../../tests/data/golden-tokenizer.json", import.meta.url), "utf-8"));

test("tokenizers.js with the exported tokenizer.json gives the golden ids", () => {
  assert.ok(golden.cases.length >= 20);
  const encode = wordsV1(golden.tokenizer_json, golden.max_len);
  for (const { text, ids } of golden.cases) assert.deepEqual(encode(text), ids, JSON.stringify(text));
});
