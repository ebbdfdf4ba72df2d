// The page: classify the textarea's text on every edit, in the browser.
import * as ort from "onnxruntime-web";
import { load } from "./edgelstm.js";

ort.env.wasm.numThreads = 1; // no cross-origin isolation needed; answers do not depend on it

const params = new URLSearchParams(location.search);
const modelUrl = params.get("model") ?? "./model/model.onnx";
const started = performance.now();
const model = await load(new URL(modelUrl, location.href), { ort });
const $ = (id) => document.getElementById(id);
$("about").textContent = `${modelUrl}: ${model.config.arch}, ${model.config.vocab_size} words, ` +
  `max ${model.config.max_len} tokens, labels ${model.config.labels.join("/")}; ` +
  `loaded in ${(performance.now() - started).toFixed(0)} ms`;

async function show() {
  const text = $("text").value;
  const { label, probability, probabilities } = await model.classify(text);
  $("result").textContent = `${label} ${probability.toFixed(4)}`;
  $("bars").innerHTML = "";
  probabilities.forEach((p, i) => {
    const row = document.createElement("div");
    row.textContent = `${model.config.labels[i]} ${p.toFixed(4)}`;
    const bar = row.appendChild(document.createElement("div"));
    bar.className = "bar";
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    $("bars").append(row);
  });
}
let pending = Promise.resolve();
$("text").addEventListener("input", () => { pending = pending.then(show); });
await show();
// For tests and the curious: classify from the console (window.edgelstm.classify("...")).
window.edgelstm = model;
document.body.dataset.ready = "true";
