// A requester of MCP Tasks built on the official packages: @modelcontextprotocol/client 2.x
// connected at 2026-07-28, and @modelcontextprotocol/ext-tasks's task session on top of it.
// tests/test_tasks_requester.py runs it with the Node 22 of .ci/node against our server.
//
// One argument: a JSON job. `transport` is {kind: "stdio", command, args, env} or
// {kind: "http", url, headers}; `action` is one of
//   settle  call `tool` with `arguments`, settle the execution, report the outcome;
//   start   call it, hand the task off (a serialized reference) without cancelling it;
//   resume  resume `reference` (from `start`, in another process) and settle it;
//   cancel  call it, cancel the task, then read the task once more.
// The report is one JSON line on stdout; the server's log goes to stderr.

import { readFileSync } from "node:fs";
import { Coordinated } from "./coordinated.mjs";

// The packages live in .ci/node/node_modules (where `.ci/run` installs them), not beside this
// file, so each entry point is found through its package's own `exports` map.
const MODULES = new URL("../../.ci/node/node_modules/", import.meta.url);

async function load(name, subpath = ".") {
  const root = new URL(`${name}/`, MODULES);
  const manifest = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
  let target = manifest.exports[subpath];
  target = target.import ?? target;
  target = target.default ?? target;
  return import(new URL(target, root).href);
}

const { Client, StreamableHTTPClientTransport } = await load("@modelcontextprotocol/client");
const { StdioClientTransport } = await load("@modelcontextprotocol/client", "./stdio");
const { createTaskSessionFromClient, resultFromTaskOutcome } = await load("@modelcontextprotocol/ext-tasks", "./client");

const PROTOCOL = "2026-07-28";
const CLIENT_INFO = { name: "tinyfish-mcp-tasks-requester", version: "1.0.0" };
const ENDPOINT = "tinyfish-mcp-under-test"; // the same in every process: a reference outlives one
const SETTLE_MS = 90_000; // only a guard against a hung test

function transportFor(spec) {
  if (spec.kind === "stdio") {
    return new StdioClientTransport({ command: spec.command, args: spec.args, env: spec.env, stderr: "inherit" });
  }
  return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers ?? {} } });
}

async function connect(spec) {
  const transport = new Coordinated(transportFor(spec));
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: PROTOCOL } } });
  await client.connect(transport);
  const session = createTaskSessionFromClient(client, {
    endpointId: ENDPOINT,
    rawDispatch: transport.dispatch,
    v2RequestFraming: { protocolVersion: PROTOCOL, clientInfo: CLIENT_INFO, clientCapabilities: {} },
  });
  return { client, session };
}

function view(task) {
  return task === undefined ? null : { taskId: task.taskId, status: task.status, statusMessage: task.statusMessage ?? null };
}

async function settled(execution) {
  const seen = [];
  const { outcome, lastTask } = await execution.settle({
    signal: AbortSignal.timeout(SETTLE_MS),
    onEvent: (event) => {
      if (event.type === "task") seen.push(view(event.task));
    },
  });
  return {
    outcome: outcome.status,
    result: outcome.status === "completed" ? resultFromTaskOutcome(outcome) : null,
    lastTask: view(lastTask),
    seen,
  };
}

async function main(job) {
  const { client, session } = await connect(job.transport);
  const report = { protocol: client.getNegotiatedProtocolVersion(), era: client.getProtocolEra() };
  report.capabilities = session.capabilities;
  try {
    if (job.action === "resume") {
      const execution = await session.resumeTask(job.reference);
      Object.assign(report, { kind: execution.kind, taskId: execution.handle?.taskId ?? null });
      Object.assign(report, await settled(execution));
      return report;
    }
    const execution = await session.callTool(job.tool, job.arguments);
    Object.assign(report, { kind: execution.kind, taskId: execution.handle?.taskId ?? null });
    if (job.action === "settle") {
      Object.assign(report, await settled(execution));
    } else if (job.action === "start") {
      await execution.handoff((reference) => {
        report.reference = reference;
      });
      // ext-tasks 0.2.2: a handed-off execution leaves the session's live set only once its
      // local outcome has settled, and closing the session before that cancels the task
      // upstream. So wait for it (a rejection: the execution was detached) and one turn more.
      await execution.result().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 0));
    } else if (job.action === "cancel") {
      await execution.cancel();
      report.afterCancel = view(await session.task(execution.handle.taskId).snapshot());
      await execution.close();
    } else {
      throw new Error(`unknown action ${job.action}`);
    }
    return report;
  } finally {
    await session.close();
    await client.close();
  }
}

try {
  const report = await main(JSON.parse(process.argv[2]));
  process.stdout.write(JSON.stringify(report) + "\n");
} catch (error) {
  const code = error?.code ?? error?.cause?.code ?? null;
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error), code }) + "\n");
  process.exitCode = 1;
}
