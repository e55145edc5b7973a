// A test host for the live-view app, built on @modelcontextprotocol/ext-apps' AppBridge.
//
// It does what an app-rendering host does: connects to tinyfish-mcp over stdio as an MCP
// client, reads the ui:// resource a tool names in _meta.ui.resourceUri, renders it in an
// iframe of a host page in headless Chromium (playwright-core, the machine's own Chromium),
// and bridges the iframe's postMessage JSON-RPC to the AppBridge, which forwards the app's
// tool calls to the server. One browser, one page per scenario, all at once:
//
//   run      an ordinary host (2026-07-28, no Tasks) calls run_web_automation with a short
//            window, hands the RUNNING result to the app, which follows the run to its end;
//   task     a Tasks-aware host (ext-tasks' task session) gets a task handle, hands the app
//            the handle (a CallToolResult whose _meta names the work), lets the app follow
//            the run, then settles the task with tasks/get and hands the app the final result;
//   session  create_browser_session: the frame is the session's inspector, which shows
//            Chromium's screencast; the session is closed afterwards;
//   profile  start_profile_setup_session: the frame is the setup browser's viewer; cancelled;
//   link     a second server whose frame domains exclude the sandbox (a handshake client):
//            the app shows the run's live view as a link, not a frame.
//
// Run by tests/apps/test_live_view_browser.py from a directory whose node_modules is
// .ci/node/node_modules, beside a copy of tests/node/coordinated.mjs. Arguments arrive as one
// JSON object in TFMCP_HOST_ARGS: python, env, linkEnv, chromium, artifacts, runUrl, taskUrl,
// linkUrl, goal. It prints one JSON line: what each scenario's app showed.

import { createServer } from "node:http";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { AppBridge } from "@modelcontextprotocol/ext-apps/app-bridge";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { chromium } from "playwright-core";
import { Coordinated } from "./coordinated.mjs";

const args = JSON.parse(process.env.TFMCP_HOST_ARGS);
const APP_MIME = "text/html;profile=mcp-app";
const MODERN = "2026-07-28";
const INFO = { name: "tinyfish-live-view-test-host", version: "1.0.0" };
const UI = { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [APP_MIME] } } };
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT = { timeout: 30000 };
const SITE = `<!DOCTYPE html><html><head><title>Sign in</title><style>body { font: 28px system-ui, sans-serif;
  margin: 40px; background: #e8f0fe; color: #1d2430; }</style></head><body><h1>Example shop</h1>
  <p>A page in the remote browser, streamed to the live view.</p></body></html>`;

function hostPage(appUrl, tool) {
  return `<!DOCTYPE html><html><head><title>Test host</title><style>
  body { margin: 0; font: 13px system-ui, sans-serif; background: #f3f4f6; }
  header { padding: 8px 12px; background: #1d2430; color: #fff; }
  iframe { display: block; width: 880px; height: 900px; margin: 12px; border: 1px solid #c5cad3;
           border-radius: 8px; background: #fff; }
  </style></head><body><header>MCP host (ext-apps AppBridge) · tool: ${tool}</header>
  <iframe id="app" src="${appUrl}" sandbox="allow-scripts allow-same-origin allow-popups"></iframe>
  <script>
  const app = document.getElementById("app");
  window.addEventListener("message", (event) => {
    if (event.source === app.contentWindow) window.__toHost(event.data);
  });
  window.__toApp = (message) => app.contentWindow.postMessage(message, "*");
  </script></body></html>`;
}

// The app's CSP as a host derives it from the resource's _meta.ui.csp.
function cspOf(meta) {
  const csp = (meta && meta.ui && meta.ui.csp) || {};
  const frames = (csp.frameDomains || []).join(" ") || "'none'";
  const connect = ["'self'", ...(csp.connectDomains || [])].join(" ");
  return `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; ` +
    `img-src data:; frame-src ${frames}; connect-src ${connect}`;
}

// A loopback server of pages: route(url) gives { body, headers } or nothing (404).
async function serve(route) {
  const server = createServer((request, response) => {
    const page = route(new URL(request.url, "http://x"));
    if (!page) { response.writeHead(404).end(); return; }
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ...page.headers });
    response.end(page.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function stdio(env) {
  return new StdioClientTransport({ command: args.python, args: ["-m", "tinyfish_mcp"], env, stderr: "inherit" });
}

// A host on 2026-07-28 that declares Tasks on the calls it makes as tasks (ext-tasks' session).
async function connectModern(env) {
  const transport = new Coordinated(stdio(env));
  const client = new Client(INFO, { capabilities: UI, versionNegotiation: { mode: { pin: MODERN } } });
  await client.connect(transport);
  const tasks = createTaskSessionFromClient(client, {
    endpointId: "tinyfish-live-view-test",
    rawDispatch: transport.dispatch,
    v2RequestFraming: { protocolVersion: MODERN, clientInfo: INFO, clientCapabilities: {} },
  });
  return { client, tasks };
}

async function connectHandshake(env) {
  const client = new Client(INFO, { capabilities: UI });
  await client.connect(stdio(env));
  return { client, tasks: null };
}

// The ui:// resource run_web_automation names, as a host reads it.
async function appOf(client) {
  const tool = (await client.listTools()).tools.find((t) => t.name === "run_web_automation");
  const uri = tool && tool._meta && tool._meta.ui && tool._meta.ui.resourceUri;
  if (!uri) throw new Error("run_web_automation names no ui:// resource");
  const resource = (await client.readResource({ uri })).contents[0];
  if (resource.mimeType !== APP_MIME) throw new Error(`the app is served as ${resource.mimeType}`);
  return { body: resource.text, headers: { "Content-Security-Policy": cspOf(resource._meta) } };
}

function structured(result) {
  if (result.isError) throw new Error(result.content.map((b) => b.text).join(" "));
  return result.structuredContent;
}

// One page of the host with the app mounted and its bridge connected to `client`.
async function mount(browser, client, appUrl, pageUrl, tool) {
  const page = await browser.newPage({ viewport: { width: 904, height: 960 } });
  const consoleLines = [];
  page.on("console", (line) => consoleLines.push(line.text()));
  const transport = {
    async start() {},
    async send(message) { await page.evaluate((m) => window.__toApp(m), message); },
    async close() {},
  };
  await page.exposeFunction("__toHost", (message) => transport.onmessage && transport.onmessage(message));
  const bridge = new AppBridge(client, { name: "test-host", version: "1.0.0" },
    { serverTools: {}, openLinks: {} }, { hostContext: { theme: "light", displayMode: "inline" } });
  const initialized = new Promise((resolve) => { bridge.oninitialized = resolve; });
  await bridge.connect(transport);
  const calls = [];
  const forward = bridge.oncalltool;
  bridge.oncalltool = async (params, extra) => { calls.push(params.name); return forward(params, extra); };
  await page.goto(`${pageUrl}?app=${encodeURIComponent(appUrl)}&tool=${tool}`);
  await initialized;
  // Every status and task line the app shows, in order (a final one is never left for another).
  const appFrame = page.frames().find((frame) => frame.url() === appUrl);
  await appFrame.evaluate(() => {
    for (const [id, seen] of [["status", "__statuses"], ["task", "__tasks"]]) {
      const element = document.getElementById(id);
      window[seen] = [];
      new MutationObserver(() => window[seen].push(element.textContent))
        .observe(element, { childList: true, characterData: true, subtree: true });
    }
  });
  return { page, bridge, calls, app: page.frameLocator("#app"), appFrame, consoleLines };
}

async function shown(view) {
  const { app } = view;
  const frame = app.locator("#frame");
  return {
    title: await app.locator("#title").textContent(),
    status: await app.locator("#status").textContent(),
    statuses: await view.appFrame.evaluate(() => window.__statuses),
    tasks: await view.appFrame.evaluate(() => window.__tasks),
    task: (await app.locator("#task").isVisible()) ? await app.locator("#task").textContent() : null,
    frameSrc: await frame.getAttribute("src"),
    frameVisible: await frame.isVisible(),
    frameNote: await app.locator("#framenote").textContent(),
    link: (await app.locator("#link").count()) ? await app.locator("#link").getAttribute("href") : null,
    steps: await app.locator("#steps li").allTextContents(),
    result: (await app.locator("#resultbox").isVisible()) ? JSON.parse(await app.locator("#result").textContent()) : null,
    cost: await app.locator("#cost").textContent(),
    next: (await app.locator("#nextbox").isVisible()) ? await app.locator("#next").textContent() : "",
    calls: [...view.calls],
    console: view.consoleLines.filter((line) => !line.includes("[ext-apps]")),
  };
}

async function screenshot(view, name) {
  await view.page.screenshot({ path: `${args.artifacts}/${name}` });
}

// An ordinary host: the call returns RUNNING within its window; the app follows the run.
async function runScenario(browser, { client }, appUrl) {
  const view = await mount(browser, client, appUrl, hostUrl, "run_web_automation");
  const toolArgs = { url: args.runUrl, goal: args.goal, max_wait_seconds: 1 };
  await view.bridge.sendToolInput({ arguments: toolArgs });
  const result = await client.callTool({ name: "run_web_automation", arguments: toolArgs });
  await view.bridge.sendToolResult(result);
  await view.app.locator("#status", { hasText: "COMPLETED" }).waitFor(WAIT);
  await view.app.locator("#resultbox:not([hidden])").waitFor(WAIT);
  // The framed live view (the run's streaming_url) lists the run's steps too.
  const live = view.app.frameLocator("#frame");
  await live.locator("#status", { hasText: "COMPLETED" }).waitFor(WAIT);
  await screenshot(view, "live-view.png");
  return { first: structured(result), ...(await shown(view)), liveSteps: await live.locator("#steps li").allTextContents() };
}

// A Tasks-aware host: it hands the app the handle, then the final result once tasks/get completes.
async function taskScenario(browser, { client, tasks }, appUrl) {
  const view = await mount(browser, client, appUrl, hostUrl, "run_web_automation");
  const toolArgs = { url: args.taskUrl, goal: args.goal };
  const execution = await tasks.callTool("run_web_automation", toolArgs);
  if (execution.kind !== "task") throw new Error(`run_web_automation answered ${execution.kind}, not a task`);
  const seen = [];
  let firstLook;
  const looked = new Promise((resolve) => { firstLook = resolve; });
  const settled = execution.settle({
    signal: AbortSignal.timeout(90000),
    onEvent: (event) => {
      if (event.type !== "task") return;
      seen.push({ status: event.task.status, meta: event.task.raw._meta ?? null });
      firstLook(event.task);
    },
  });
  const handle = await looked;
  // What a host can send through ui/notifications/tool-result: a CallToolResult whose _meta
  // carries the task's work reference and the standard related-task key.
  const handed = {
    content: [{ type: "text", text: handle.statusMessage ?? "working" }],
    _meta: { ...handle.raw._meta, "io.modelcontextprotocol/related-task": { taskId: handle.taskId } },
  };
  await view.bridge.sendToolInput({ arguments: toolArgs });
  await view.bridge.sendToolResult(handed);
  // The app follows the run by itself to its end, before the host has anything to deliver.
  await view.app.locator("#status", { hasText: "COMPLETED" }).waitFor(WAIT);
  await view.app.locator("#resultbox:not([hidden])").waitFor(WAIT);
  const followed = await shown(view);
  const { outcome } = await settled;
  const final = resultFromTaskOutcome(outcome);
  const before = followed.statuses.length;
  await view.bridge.sendToolResult(final);
  await view.appFrame.waitForFunction((n) => window.__statuses.length > n, before, WAIT);
  await screenshot(view, "live-view-task.png");
  return { taskId: execution.handle.taskId, handed, seen, outcome: outcome.status, final, followed,
    delivered: await shown(view) };
}

// Waits until the framed inspector shows a screencast frame (an <img> with a JPEG in it).
async function screencastShown(view) {
  const screen = view.app.frameLocator("#frame").locator("#screen[src^='data:image/jpeg;base64,']");
  await screen.waitFor({ state: "attached", ...WAIT });
  return (await screen.getAttribute("src")).length;
}

async function sessionScenario(browser, { client }, appUrl) {
  const view = await mount(browser, client, appUrl, hostUrl, "create_browser_session");
  const result = await client.callTool({ name: "create_browser_session", arguments: { url: siteUrl } });
  const session = structured(result);
  try {
    await view.bridge.sendToolResult(result);
    await view.app.locator("#frame").waitFor({ state: "visible", ...WAIT });
    const screencastBytes = await screencastShown(view);
    await screenshot(view, "live-view-session.png");
    return { session, screencastBytes, ...(await shown(view)) };
  } finally {
    structured(await client.callTool({ name: "close_browser_session", arguments: { session_id: session.session_id } }));
  }
}

async function profileScenario(browser, { client }, appUrl) {
  const view = await mount(browser, client, appUrl, hostUrl, "start_profile_setup_session");
  const profile = structured(await client.callTool({ name: "create_profile", arguments: { name: "live view test" } }));
  const result = await client.callTool({
    name: "start_profile_setup_session", arguments: { profile_id: profile.profile_id, url: siteUrl },
  });
  const setup = structured(result);
  try {
    await view.bridge.sendToolResult(result);
    await view.app.locator("#frame").waitFor({ state: "visible", ...WAIT });
    const screencastBytes = await screencastShown(view);
    return { setup, screencastBytes, ...(await shown(view)) };
  } finally {
    structured(await client.callTool({
      name: "cancel_profile_setup_session", arguments: { profile_id: profile.profile_id, session_id: setup.session_id },
    }));
  }
}

// A server whose frame domains leave the sandbox out: the live view is a link.
async function linkScenario(browser, { client }, appUrl) {
  const view = await mount(browser, client, appUrl, hostUrl, "run_web_automation");
  const result = await client.callTool({ name: "run_web_automation", arguments: { url: args.linkUrl, goal: args.goal } });
  await view.bridge.sendToolResult(result);
  await view.app.locator("#status", { hasText: "COMPLETED" }).waitFor(WAIT);
  await view.app.locator("#link").waitFor(WAIT);
  return { first: structured(result), ...(await shown(view)) };
}

const main = await connectModern(args.env);
const other = await connectHandshake(args.linkEnv);
// The host page and the apps on two origins (127.0.0.1 and localhost), as hosts sandbox apps.
const apps = { "/main/app.html": await appOf(main.client), "/link/app.html": await appOf(other.client) };
const appServer = await serve((url) => apps[url.pathname]);
const appBase = `http://localhost:${appServer.address().port}`;
// The host page, and a page for the session's and the setup's browsers to show.
const pageServer = await serve((url) => {
  if (url.pathname === "/host.html") return { body: hostPage(url.searchParams.get("app"), url.searchParams.get("tool")) };
  if (url.pathname === "/site.html") return { body: SITE };
  return undefined;
});
const hostUrl = `http://127.0.0.1:${pageServer.address().port}/host.html`;
const siteUrl = `http://127.0.0.1:${pageServer.address().port}/site.html`;

const browser = await chromium.launch({ executablePath: args.chromium, args: FLAGS, headless: true });
let output;
try {
  // All settle before anything closes: a failing case must not stop another closing its session.
  const settled = await Promise.allSettled([
    runScenario(browser, main, `${appBase}/main/app.html`),
    taskScenario(browser, main, `${appBase}/main/app.html`),
    sessionScenario(browser, main, `${appBase}/main/app.html`),
    profileScenario(browser, main, `${appBase}/main/app.html`),
    linkScenario(browser, other, `${appBase}/link/app.html`),
  ]);
  const failed = settled.find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
  const [run, task, session, profile, link] = settled.map((outcome) => outcome.value);
  const protocols = [main.client.getNegotiatedProtocolVersion(), other.client.getNegotiatedProtocolVersion()];
  output = { run, task, session, profile, link, protocols };
} finally {
  await browser.close();
  appServer.close();
  pageServer.close();
  await main.tasks.close();
  await main.client.close();
  await other.client.close();
}
process.stdout.write(JSON.stringify(output) + "\n");
