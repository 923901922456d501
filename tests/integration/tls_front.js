// tls_front.js - a TLS + HTTP/2 front for the sandbox in test_tls.sh (Node's http2 module):
// terminates TLS with the test's certificate, offers h2 and http/1.1 by ALPN, forwards each
// request to the sandbox over plain HTTP and answers with the sandbox's answer. Every request's
// protocol version goes to LOG, one line each, so the test can say which one libcurl chose.
// Usage: node tls_front.js KEY CERT SANDBOX_PORT LOG   (prints "listening on PORT")
"use strict";
const fs = require("fs"), http = require("http"), http2 = require("http2");
const [key, cert, upstream, log] = process.argv.slice(2);
const server = http2.createSecureServer(
  { key: fs.readFileSync(key), cert: fs.readFileSync(cert), allowHTTP1: true },
  (req, res) => {
    fs.appendFileSync(log, req.httpVersion + " " + req.method + " " + req.url + "\n");
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const up = http.request(
        { host: "127.0.0.1", port: Number(upstream), method: req.method, path: req.url,
          headers: { "content-type": req.headers["content-type"] || "application/json",
                     "content-length": body.length } },
        (ur) => {
          const parts = [];
          ur.on("data", (c) => parts.push(c));
          ur.on("end", () => {
            res.writeHead(ur.statusCode, { "content-type": ur.headers["content-type"] || "application/json" });
            res.end(Buffer.concat(parts));
          });
        });
      up.on("error", () => { res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
server.listen(0, "127.0.0.1", () => console.log("listening on " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
