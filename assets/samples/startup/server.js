// A sample service: a small JSON API that reads its port from PORT or argv[2].
const http = require('http');

const port = Number(process.env.PORT || process.argv[2] || 4000);
let visits = 0;

http
  .createServer((req, res) => {
    visits += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: 'startup', message: 'Startup is running', path: req.url, visits }) + '\n');
  })
  .listen(port, () => console.log(`startup listening on ${port}`));
