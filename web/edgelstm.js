// edgelstm in JavaScript: load(modelUrl) -> classify(text) -> { label, probabilities }.
//
// Runs an edgelstm model.onnx with tokenizer.json beside it, in the browser (onnxruntime-web,
// wasm backend: WebGL has no LSTM kernel) or in Node (onnxruntime-node). Labels, max length and
// sizes come from the model's own metadata (key "edgelstm"), which onnxruntime-web/-node cannot
// read (onnxruntime#16547), so readMetadata() parses it from the file's bytes.
import { Tokenizer } from "@huggingface/tokenizers";

const METADATA_KEY = "edgelstm";
const OOV_ID = 1;
const IS_NODE = typeof process !== "undefined" && !!process.versions?.node;

// Protocol-buffer reading, just enough for ModelProto.metadata_props (field 14, repeated
// StringStringEntryProto { key = 1; value = 2; }). Every other field is skipped by its wire type.
function readVarint(bytes, state) {
  let value = 0;
  for (let shift = 1; ; shift *= 128) {
    const byte = bytes[state.pos++];
    if (byte === undefined) throw new Error("truncated ONNX file");
    value += (byte & 0x7f) * shift;
    if (byte < 0x80) return value;
  }
}

function* fields(bytes, start = 0, end = bytes.length) {
  const state = { pos: start };
  while (state.pos < end) {
    const tag = readVarint(bytes, state);
    const [field, wire] = [Math.floor(tag / 8), tag % 8];
    if (wire === 0) yield [field, readVarint(bytes, state)];
    else if (wire === 1 || wire === 5) state.pos += wire === 1 ? 8 : 4;
    else if (wire === 2) {
      const length = readVarint(bytes, state);
      yield [field, bytes.subarray(state.pos, state.pos + length)];
      state.pos += length;
    } else throw new Error(`not an ONNX file (wire type ${wire})`);
  }
}

/** The ModelProto's metadata_props as a plain object. */
export function readMetadata(bytes) {
  const text = new TextDecoder();
  const metadata = {};
  for (const [field, entry] of fields(bytes)) {
    if (field !== 14) continue;
    let key = "", value = "";
    for (const [f, v] of fields(entry)) {
      if (f === 1) key = text.decode(v);
      else if (f === 2) value = text.decode(v);
    }
    metadata[key] = value;
  }
  return metadata;
}

async function fetchBytes(url) {
  const href = String(url);
  if (IS_NODE && !/^https?:/.test(href)) {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(href.startsWith("file:") ? new URL(href) : href));
  }
  const response = await fetch(href);
  if (!response.ok) throw new Error(`${href}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function besideModel(modelUrl, name) {
  const href = String(modelUrl);
  const slash = href.lastIndexOf("/");
  return slash < 0 ? name : href.slice(0, slash + 1) + name;
}

/**
 * text -> words-v1 ids, from the tokenizer.json export writes. tokenizers.js ignores the file's
 * truncation, so the last maxLen ids are kept here; a text without words is one unknown word.
 */
export function wordsV1(tokenizerJson, maxLen) {
  // tokenizers.js reads a WordLevel model's unknown token from the tokenizer config, not the model.
  const tokenizer = new Tokenizer(tokenizerJson, { unk_token: tokenizerJson.model.unk_token });
  return (text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids.slice(-maxLen);
    return ids.length ? ids : [OOV_ID];
  };
}

/**
 * Load model.onnx (and tokenizer.json beside it, or options.tokenizerUrl).
 * options.ort: an onnxruntime module (default: onnxruntime-node in Node, onnxruntime-web else).
 * Returns { config, classify(text), classifyBatch(texts), encode(text), session }.
 */
export async function load(modelUrl, options = {}) {
  const ort = options.ort ?? (await import(IS_NODE ? "onnxruntime-node" : "onnxruntime-web"));
  const [modelBytes, tokenizerBytes] = await Promise.all([
    fetchBytes(modelUrl),
    fetchBytes(options.tokenizerUrl ?? besideModel(modelUrl, "tokenizer.json")),
  ]);
  const metadata = readMetadata(modelBytes);
  if (!(METADATA_KEY in metadata)) throw new Error(`${modelUrl}: not an edgelstm model (no metadata)`);
  const config = JSON.parse(metadata[METADATA_KEY]);
  const encode = wordsV1(JSON.parse(new TextDecoder().decode(tokenizerBytes)), config.max_len);
  const session = await ort.InferenceSession.create(modelBytes, options.sessionOptions ?? {});

  /** Many texts in one padded batch (B, longest); each text's answer is the one it gets alone. */
  async function classifyBatch(texts) {
    const sequences = texts.map(encode);
    const batch = sequences.length;
    const longest = Math.max(...sequences.map((ids) => ids.length));
    const inputIds = new BigInt64Array(batch * longest); // 0 = padding, after each text's ids
    sequences.forEach((ids, row) => inputIds.set(BigInt64Array.from(ids, BigInt), row * longest));
    const feeds = {};
    for (const name of session.inputNames) {
      if (name === "input_ids") feeds[name] = new ort.Tensor("int64", inputIds, [batch, longest]);
      else if (name === "lengths") feeds[name] = new ort.Tensor("int64", BigInt64Array.from(sequences, (ids) => BigInt(ids.length)), [batch]);
      // lstm models (format_version 2) take the recurrent state: zeros = the start of a text.
      else if (name === "initial_h" || name === "initial_c") feeds[name] = new ort.Tensor("float32", new Float32Array(batch * config.hidden), [batch, config.hidden]);
      else throw new Error(`model input ${name} is unknown to this module`);
    }
    const outputs = await session.run(feeds, ["probabilities"]);
    const width = config.labels.length;
    return sequences.map((ids, row) => {
      const probabilities = Array.from(outputs.probabilities.data.slice(row * width, (row + 1) * width));
      const best = probabilities.indexOf(Math.max(...probabilities));
      return { label: config.labels[best], probability: probabilities[best], probabilities, ids };
    });
  }

  async function classify(text) {
    return (await classifyBatch([text]))[0];
  }

  return { config, session, encode, classify, classifyBatch };
}
