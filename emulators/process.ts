import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';

/**
 * Starting and stopping emulator processes that tests and the local stack own: each runs in its
 * own process group (Java emulators start children), is killed as a group on stop() and when
 * this process exits, and is ready only when it answers HTTP, never after a fixed sleep.
 */
export interface RunningEmulator {
  name: string;
  /** host:port, the value of the emulator's *_EMULATOR_HOST variable. */
  host: string;
  pid: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * A TCP port free now, below the range the OS hands out for outgoing connections and for
 * listen(0) (Linux: net.ipv4.ip_local_port_range, 32768-60999 by default; macOS and Windows
 * start at 49152): a port from that range, found free, can be taken by a client's connection
 * before the server that asked for it binds it, which happened on CI.
 */
export async function freePort(): Promise<number> {
  const ceiling = Math.min(32768, ephemeralRangeStart());
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (ceiling - 10_000));
    if (await portIsFree(port)) return port;
  }
  return osAssignedPort();
}

function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 11_000 ? start : 32768;
  } catch {
    return 32768;
  }
}

/** A port the OS picks (listen on 0): the fallback when no port below its range is free. */
async function osAssignedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether a TCP port can be listened on at 127.0.0.1 now. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The google-cloud-cli installation's root, found from `gcloud` on PATH. */
export function cloudSdkRoot(): string {
  const candidates: string[] = [];
  try {
    const gcloud = execFileSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' }).trim();
    if (gcloud) candidates.push(dirname(dirname(realpathSync(gcloud))));
  } catch {
    // not on PATH
  }
  candidates.push('/usr/lib/google-cloud-sdk', '/google-cloud-sdk', '/opt/google-cloud-sdk');
  const root = candidates.find((candidate) => existsSync(join(candidate, 'platform')));
  if (!root) throw new Error('google-cloud-cli not found: install it and its emulators (see README, Emulators)');
  return root;
}

/** The emulator could not listen on its port: something took it after it was found free. */
class PortTakenError extends Error {}

/** How to start one emulator process on a port. */
interface EmulatorProcessOptions {
  name: string;
  command: string;
  args: (port: number) => string[];
  /** The log line the emulator writes once it listens. */
  started: RegExp;
  /** Resolves when the emulator answers; called until it does or the timeout passes. */
  ready: (baseUrl: string) => Promise<boolean>;
  timeoutMs?: number;
}

/**
 * Starts an emulator on `port`, or on a free port found now. A port found free can be taken
 * before the emulator binds it (a client's outgoing connection, another test's server: it
 * happened on CI, and the Java emulator then lives on without listening): the emulator is then
 * started again on another port, up to five times. Ready only when its log says it started
 * (`started`) and it answers (`ready`), so a stranger on the same port is never mistaken for it.
 */
export async function startEmulatorProcess(
  options: EmulatorProcessOptions & {
    port?: number;
    /** Where a port is found when none is given (freePort; a test hands out a taken one first). */
    pickPort?: () => Promise<number>;
  },
): Promise<RunningEmulator> {
  const attempts = options.port === undefined ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await (options.pickPort ?? freePort)());
    try {
      return await startOnPort(options, port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}

async function startOnPort(options: EmulatorProcessOptions, port: number): Promise<RunningEmulator> {
  installExitHook();
  const child = spawn(options.command, options.args(port), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  let started = false;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
    started ||= options.started.test(output);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));

  const host = `127.0.0.1:${port}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (/Address already in use|BindException/.test(output)) {
      killGroup(child, 'SIGKILL');
      throw new PortTakenError(`the ${options.name} emulator could not listen on ${host}: it was taken`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the ${options.name} emulator exited before it was ready:\n${output}`);
    }
    if (started && (await options.ready(`http://${host}`).catch(() => false))) break;
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`the ${options.name} emulator did not answer on ${host} within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    name: options.name,
    host,
    pid: child.pid!,
    async stop() {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once something accepts TCP connections on the port (a server that is up). */
export async function waitForPort(port: number, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
