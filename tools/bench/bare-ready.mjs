// The footprint bench's baseline: a bare Node process answering /health/ready on PORT, started like an LMS node.
import http from 'node:http';

http.createServer((req, res) => res.writeHead(req.url === '/health/ready' ? 200 : 404).end()).listen(Number(process.env.PORT));
