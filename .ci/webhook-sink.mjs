// A webhook receiver for the browser check: HTTP on 127.0.0.1 (a free port, written to
// PORT_FILE) that appends each request it receives (its webhook headers and body) as one JSON
// line to LOG_FILE and answers 204. Stops by itself after 180 s, or when its parent kills it.
//
//   node .ci/webhook-sink.mjs PORT_FILE LOG_FILE
import http from 'node:http';
import fs from 'node:fs';

const [portFile, logFile] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const h = req.headers;
    fs.appendFileSync(logFile, JSON.stringify({
      path: req.url,
      id: h['webhook-id'],
      timestamp: h['webhook-timestamp'],
      signature: h['webhook-signature'],
      body: Buffer.concat(chunks).toString('utf8'),
    }) + '\n');
    res.writeHead(204);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
setTimeout(() => process.exit(0), 180000).unref();
