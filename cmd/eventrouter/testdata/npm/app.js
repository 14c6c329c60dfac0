// The entry point of an npm-bundled application, as its build (here
// esbuild, with code splitting) bundles it: analytics.js comes from the
// @segment/analytics-next package, not from a CDN. The test page imports
// AnalyticsBrowser from the bundle and loads it with cdnURL pointing at
// eventrouter.
export { AnalyticsBrowser } from "@segment/analytics-next";
