// Drives the real @segment/analytics-node against eventrouter: the six
// calls, each with integrations, then flushes and prints every HTTP request
// the library made (its own "http_request" events) as one JSON line, so the
// test can compare what was sent with what eventrouter stored.
//
// Usage: node analytics-node.mjs <host> <writeKey>
import { Analytics } from "@segment/analytics-node";

const [host, writeKey] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushAt: 6, flushInterval: 60000, maxRetries: 0 });
const requests = [];
const errors = [];
analytics.on("http_request", (r) => requests.push({ url: r.url, method: r.method, body: r.body }));
analytics.on("error", (e) => errors.push(String(e && (e.reason || e.message || e.code) || e)));

const integrations = { All: true, Mixpanel: false, "Customer.io": { sendToInbox: true } };
const when = new Date("2024-03-01T12:00:00.000Z");
analytics.identify({ messageId: "node-identify", userId: "node-u1", traits: { email: "ada@example.com", plan: "pro", logins: 3, vip: true }, integrations });
analytics.track({ messageId: "node-track", userId: "node-u1", event: "Order Completed", timestamp: when,
  properties: { order_id: "o-17", revenue: 9.99, currency: "EUR", coupon: { code: "SPRING" } }, context: { campaign: { source: "newsletter" } }, integrations });
analytics.page({ messageId: "node-page", userId: "node-u1", category: "Docs", name: "Getting Started", properties: { section: "install", url: "https://docs.example.com/start" }, integrations });
analytics.screen({ messageId: "node-screen", anonymousId: "node-a1", name: "Home", properties: { orientation: "portrait" }, integrations });
analytics.group({ messageId: "node-group", userId: "node-u1", groupId: "g-acme", traits: { company: "Acme", employees: 42 }, integrations });
analytics.alias({ messageId: "node-alias", previousId: "node-a1", userId: "node-u1", integrations });
await analytics.closeAndFlush({ timeout: 20000 });
process.stdout.write(JSON.stringify({ requests, errors }) + "\n");
