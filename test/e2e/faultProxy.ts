/**
 * A small fault-injecting HTTP(S) proxy on loopback, standing between the program and a registry:
 * it forwards every request as it is (streamed, Host header kept, so the registry's upload
 * `Location`s point back at the proxy) unless its {@link FaultPlan} says to answer with an error
 * status or to reset the connection. Used by the runtime-fault tests (test/e2e/faults.e2e.test.ts)
 * and unit-tested against the fake registry.
 */
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";

/** Which requests fail, and how. */
export interface FaultPlan {
  /** `status`: answer {@link FaultPlan.status}; `reset`: destroy the connection; `none`: forward. */
  mode: "status" | "reset" | "none";
  /** The status a `status` fault answers with. Default 503. */
  status?: number;
  /** Fail every n-th request (1: all of them). Default 1. */
  every?: number;
  /** Fail at most this many requests, then forward everything. Default: no limit. */
  count?: number;
  /** Only requests whose `METHOD path` matches can fail. Default: every request. */
  match?: RegExp;
  /**
   * Only requests whose User-Agent matches can fail (`/^$/`: the program's own client, which sends
   * none; BuildKit and buildx send theirs). Default: any.
   */
  userAgent?: RegExp;
}

/** Where the proxy forwards to. */
export interface Upstream {
  host: string;
  port: number;
  /** Upstream speaks TLS: the CA to verify it with and the name its certificate is for. */
  tls?: { ca: string; servername: string };
}

export class FaultProxy {
  plan: FaultPlan = { mode: "none" };
  /** Requests seen, and requests failed on purpose. */
  requests = 0;
  injected = 0;
  /** When each fault of the current plan was injected (ms since the epoch): the clients' backoff. */
  injectedAt: number[] = [];
  /** Requests seen per User-Agent ("" for none), since the proxy started: who went through it. */
  readonly agents = new Map<string, number>();
  private candidates = 0;
  private readonly server: http.Server;

  /** `serve`: the certificate and key to listen with TLS (clients keep verifying the name). */
  constructor(
    private readonly upstream: Upstream,
    serve?: { cert: string; key: string },
  ) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    this.server = serve ? https.createServer(serve, handler) : http.createServer(handler);
  }

  /** Listens on 127.0.0.1 (port 0: any free port); returns the port. */
  async start(port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen(port, "127.0.0.1", r));
    return (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Sets a plan and starts its counts afresh. */
  set(plan: FaultPlan): void {
    this.plan = plan;
    this.candidates = 0;
    this.injected = 0;
    this.injectedAt = [];
  }

  private shouldFail(req: http.IncomingMessage): boolean {
    const p = this.plan;
    if (p.mode === "none") return false;
    if (p.match && !p.match.test(`${req.method ?? ""} ${req.url ?? ""}`)) return false;
    if (p.userAgent && !p.userAgent.test(req.headers["user-agent"] ?? "")) return false;
    if (p.count !== undefined && this.injected >= p.count) return false;
    this.candidates++;
    return this.candidates % (p.every ?? 1) === 0;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const agent = req.headers["user-agent"] ?? "";
    this.agents.set(agent, (this.agents.get(agent) ?? 0) + 1);
    if (this.shouldFail(req)) {
      this.injected++;
      this.injectedAt.push(Date.now());
      if (this.plan.mode === "reset") {
        req.socket.destroy();
        return;
      }
      req.resume();
      res.statusCode = this.plan.status ?? 503;
      res.setHeader("content-type", "application/json");
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"fault injected by the test proxy"}]}');
      return;
    }
    const u = this.upstream;
    const options: https.RequestOptions = {
      host: u.host,
      port: u.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      ...(u.tls ? { ca: u.tls.ca, servername: u.tls.servername } : {}),
    };
    const out = (u.tls ? https : http).request(options, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => req.socket.destroy());
    req.pipe(out);
  }
}
