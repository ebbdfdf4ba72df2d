// The page: classify the textarea's text on every edit, in the browser.
// Everything that can fail (the scripts, the model, the tokenizer) fails into the page: the
// result line says what went wrong instead of staying on "loading the model…".
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const modelUrl = params.get("model") ?? "./model/model.onnx";

function fail(what, error) {
  $("result").textContent = `${what}: ${error?.message ?? error}`;
  $("result").className = "error";
  document.body.dataset.ready = "error";
}

async function start() {
  let ort, load;
  try {
    // Dynamic imports: a missing web/node_modules (npm ci not run) is an error shown here.
    [ort, { load }] = await Promise.all([import("onnxruntime-web"), import("./edgelstm.js")]);
  } catch (error) {
    fail("could not load the page's scripts (in web/, run npm ci)", error);
    return;
  }
  ort.env.wasm.numThreads = 1; // no cross-origin isolation needed; answers do not depend on it
  const started = performance.now();
  let model;
  try {
    model = await load(new URL(modelUrl, location.href), { ort });
  } catch (error) {
    fail(`could not load the model ${modelUrl}`, error);
    return;
  }
  $("about").textContent = `${modelUrl}: ${model.config.arch}, ${model.config.vocab_size} words, ` +
    `max ${model.config.max_len} tokens, labels ${model.config.labels.join("/")}; ` +
    `loaded in ${(performance.now() - started).toFixed(0)} ms`;

  async function show() {
    const text = $("text").value;
    const { label, probability, probabilities } = await model.classify(text);
    $("result").textContent = `${label} ${probability.toFixed(4)}`;
    $("result").className = "";
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
  const classify = () => show().catch((error) => fail("could not classify the text", error));
  $("text").addEventListener("input", () => { pending = pending.then(classify); });
  await classify();
  // For tests and the curious: classify from the console (window.edgelstm.classify("...")).
  window.edgelstm = model;
  if (document.body.dataset.ready !== "error") document.body.dataset.ready = "true";
}

await start();
