// A sample service: answers on the port it is given (argv[2], as the course's services read it).
const http = require('http');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const started = new Date().toISOString();

http
  .createServer((req, res) => {
    if (req.url.startsWith('/api/health')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ok: true, service: 'simon', started }));
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Simon</title><h1>Simon says hello</h1><p>served on port ${port} since ${started}</p>\n`);
  })
  .listen(port, () => console.log(`simon listening on ${port}`));
