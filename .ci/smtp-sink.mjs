// A mail server for the browser check: SMTP on 127.0.0.1 (a free port, written to PORT_FILE),
// no TLS, that writes each message it receives to MAIL_DIR/<n>.eml. Stops by itself after
// 180 s, or when its parent kills it.
//
//   node .ci/smtp-sink.mjs PORT_FILE MAIL_DIR
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const [portFile, mailDir] = process.argv.slice(2);
fs.mkdirSync(mailDir, { recursive: true });
let count = 0;
const server = net.createServer((socket) => {
  socket.setTimeout(10000, () => socket.destroy());
  let buffer = '';
  let inData = false;
  let data = [];
  const say = (line) => socket.write(line + '\r\n');
  say('220 sink.test ESMTP');
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          count += 1;
          fs.writeFileSync(path.join(mailDir, `${count}.eml`), data.join('\r\n'));
          data = [];
          say('250 queued');
        } else {
          data.push(line.startsWith('.') ? line.slice(1) : line);
        }
        continue;
      }
      const cmd = line.toUpperCase();
      if (cmd.startsWith('EHLO') || cmd.startsWith('HELO')) say('250 sink.test');
      else if (cmd.startsWith('MAIL FROM:') || cmd.startsWith('RCPT TO:') || cmd === 'RSET' || cmd === 'NOOP') say('250 OK');
      else if (cmd === 'DATA') { inData = true; say('354 end with .'); }
      else if (cmd === 'QUIT') { say('221 bye'); socket.end(); }
      else say('502 not implemented');
    }
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
setTimeout(() => process.exit(0), 180000).unref();
