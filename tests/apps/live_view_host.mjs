// A test host for the live-view app, built on @modelcontextprotocol/ext-apps' AppBridge.
//
// It does what an app-rendering host does: connects to tinyfish-mcp over stdio as an MCP
// client, reads the ui:// resource a tool names in _meta.ui.resourceUri, renders it in an
// iframe of a host page in headless Chromium (playwright-core, the machine's own Chromium),
// and bridges the iframe's postMessage JSON-RPC to the AppBridge, which forwards the app's
// tool calls to the server. Then it calls run_web_automation, hands the result to the app,
// waits for the app to show the finished run, and prints what the app shows as JSON.
//
// Run by tests/apps/test_live_view_browser.py from a directory whose node_modules is
// .ci/node/node_modules (nothing is bundled or built). Arguments arrive as one JSON object
// in TFMCP_HOST_ARGS: python, env, chromium, screenshot, url, goal, maxWait.

import { createServer } from "node:http";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { AppBridge } from "@modelcontextprotocol/ext-apps/app-bridge";
import { chromium } from "playwright-core";

const args = JSON.parse(process.env.TFMCP_HOST_ARGS);
const APP_MIME = "text/html;profile=mcp-app";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function hostPage(appUrl) {
  return `<!DOCTYPE html><html><head><title>Test host</title><style>
  body { margin: 0; font: 13px system-ui, sans-serif; background: #f3f4f6; }
  header { padding: 8px 12px; background: #1d2430; color: #fff; }
  iframe { display: block; width: 880px; height: 900px; margin: 12px; border: 1px solid #c5cad3;
           border-radius: 8px; background: #fff; }
  </style></head><body><header>MCP host (ext-apps AppBridge) · tool: run_web_automation</header>
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

async function serve(routes) {
  const server = createServer((request, response) => {
    const route = routes[new URL(request.url, "http://x").pathname];
    if (!route) { response.writeHead(404).end(); return; }
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ...route.headers });
    response.end(route.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const client = new Client({ name: "tinyfish-live-view-test-host", version: "1.0.0" }, {
  capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [APP_MIME] } } },
});
await client.connect(new StdioClientTransport({ command: args.python, args: ["-m", "tinyfish_mcp"], env: args.env }));

const tools = (await client.listTools()).tools;
const tool = tools.find((t) => t.name === "run_web_automation");
const uri = tool && tool._meta && tool._meta.ui && tool._meta.ui.resourceUri;
if (!uri) throw new Error("run_web_automation names no ui:// resource");
const resource = (await client.readResource({ uri })).contents[0];
if (resource.mimeType !== APP_MIME) throw new Error(`the app is served as ${resource.mimeType}`);

// The host page and the app on two origins (127.0.0.1 and localhost), as hosts sandbox apps.
const server = await serve({
  "/app.html": { body: resource.text, headers: { "Content-Security-Policy": cspOf(resource._meta) } },
});
const port = server.address().port;
const appUrl = `http://localhost:${port}/app.html`;
const pageServer = await serve({ "/host.html": { body: hostPage(appUrl) } });
const hostUrl = `http://127.0.0.1:${pageServer.address().port}/host.html`;

const browser = await chromium.launch({ executablePath: args.chromium, args: FLAGS, headless: true });
const calls = [];
let output;
try {
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
  const forward = bridge.oncalltool;
  bridge.oncalltool = async (params, extra) => { calls.push(params.name); return forward(params, extra); };

  await page.goto(hostUrl);
  await initialized;

  const toolArgs = { url: args.url, goal: args.goal, max_wait_seconds: args.maxWait };
  await bridge.sendToolInput({ arguments: toolArgs });
  const result = await client.callTool({ name: "run_web_automation", arguments: toolArgs });
  await bridge.sendToolResult(result);

  const app = page.frameLocator("#app");
  await app.locator("#status", { hasText: "COMPLETED" }).waitFor({ timeout: 30000 });
  await app.locator("#resultbox:not([hidden])").waitFor({ timeout: 10000 });
  // The framed live view (the run's streaming_url) lists the run's steps too.
  const live = app.frameLocator("#frame");
  await live.locator("#status", { hasText: "COMPLETED" }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: args.screenshot });

  output = {
    first: result.structuredContent,
    frameSrc: await app.locator("#frame").getAttribute("src"),
    frameVisible: await app.locator("#frame").isVisible(),
    link: await app.locator("#link").getAttribute("href"),
    status: await app.locator("#status").textContent(),
    steps: await app.locator("#steps li").allTextContents(),
    result: JSON.parse(await app.locator("#result").textContent()),
    cost: await app.locator("#cost").textContent(),
    next: (await app.locator("#nextbox").isVisible()) ? await app.locator("#next").textContent() : "",
    liveSteps: await live.locator("#steps li").allTextContents(),
    calls,
    console: consoleLines.filter((line) => !line.includes("[ext-apps]")),
  };
} finally {
  await browser.close();
  server.close();
  pageServer.close();
  await client.close();
}
process.stdout.write(JSON.stringify(output) + "\n");
