// Node-RED settings for bench/webhook (run.sh passes --settings this file --userDir DIR).
// Binds 127.0.0.1 on $NODE_RED_PORT; the editor and admin API are switched off
// (httpAdminRoot: false), so there is no login prompt and nothing but the flow's
// `http in` route is served. Logging is at "warn" so that the console stays quiet.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: parseInt(process.env.NODE_RED_PORT || "1880", 10),
  flowFile: "flows.json",
  credentialSecret: false,
  httpAdminRoot: false,
  httpNodeRoot: "/",
  disableEditor: true,
  diagnostics: { enabled: false, ui: false },
  telemetry: { enabled: false },
  runtimeState: { enabled: false, ui: false },
  externalModules: { autoInstall: false },
  logging: { console: { level: "warn", metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
};
