import http from 'node:http';

/**
 * The functions-framework's first Express middleware decodes the request path, so a malformed
 * %-encoding (`/api/runs/%ZZ`) makes Express answer with its own HTML error page before any of
 * our code runs. The read API promises a JSON reason for every refusal, so the status function
 * wraps the one server the framework creates (it loads the function's module first, then calls
 * `http.createServer(app)`): a request whose path cannot be decoded is answered here, every
 * other request goes to the framework untouched. (The deployment loads every function's module,
 * so the others get the same answer; none of them has a use for a path it cannot decode.)
 */
export function answerMalformedPathsAsJson(): void {
  const original = http.createServer;
  const patched = ((...args: unknown[]) => {
    const [first] = args;
    if (args.length !== 1 || typeof first !== 'function') return (original as (...a: unknown[]) => http.Server)(...args);
    const app = first as http.RequestListener;
    return original((request, response) => {
      if (decodablePath(request.url ?? '/')) return app(request, response);
      response.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify({ error: 'the request path is not valid percent-encoding (RFC 3986)' }));
    });
  }) as typeof http.createServer;
  http.createServer = patched;
}

function decodablePath(url: string): boolean {
  const path = url.split('?')[0]!;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}
