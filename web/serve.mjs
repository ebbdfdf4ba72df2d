// A static file server for the page (127.0.0.1 only): `node serve.mjs [port]`.
// Serves this folder, following symlinks (model/model.onnx points at the shipped model); the
// page does all inference in the browser, this only hands out files.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL(".", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".json": "application/json", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
  ".css": "text/css",
};

export function startServer(port = 0) {
  const server = createServer(async (request, response) => {
    let path;
    try {
      path = normalize(decodeURIComponent(request.url.split("?")[0]));
    } catch {
      response.writeHead(400).end();
      return;
    }
    const file = join(ROOT, path.endsWith("/") ? join(path, "index.html") : path);
    if (!file.startsWith(ROOT) || path.split(sep).includes("..")) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.argv[2] ?? 8000));
  console.log(`http://127.0.0.1:${server.address().port}/`);
}
