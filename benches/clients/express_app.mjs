// The Express side of benches/clients/run.sh: one route per way of verifying (see
// fastapi_app.py). Env: KEYSEAL_URL, BENCH_LOCAL_KEY, PORT.
// By path: express from examples/node (scripts/test-js installs it), keyseal from the
// checkout's own build (napi).
import express from "../../examples/node/node_modules/express/index.js";
import { KeyFormat, KeyPolicy, KeysealClient, Pepper, PepperSet, expressMiddleware } from "../../packages/npm/src/node.mjs";

const format = new KeyFormat("bench");
const peppers = new PepperSet(new Pepper("p1", "bench-pepper-0123456789abcdef0123"));
const localKey = process.env.BENCH_LOCAL_KEY;
const rows = new Map([[format.parse(localKey).id, { digest: peppers.digest(localKey), policy: new KeyPolicy({ scopes: ["bench:read"] }) }]]);

const local = expressMiddleware({
  verifyKey(key) {
    const row = rows.get(key.id);
    if (!row) return null;
    peppers.verify(key.expose(), row.digest);
    return row;
  },
  authorize(auth, req) {
    auth.principal.policy.check({ method: req.method, requiredScopes: ["bench:read"] });
  },
});
const client = new KeysealClient({ url: process.env.KEYSEAL_URL });
const hit = expressMiddleware({ client, requiredScopes: ["bench:read"] });
const miss = expressMiddleware({ client, requiredScopes: ["bench:read"], cacheTtl: 0 });

const app = express();
app.get("/none", (req, res) => res.json({ key: "-" }));
app.get("/local", local, (req, res) => res.json({ key: req.keyseal.key.id }));
app.get("/hit", hit, (req, res) => res.json({ key: req.keyseal.keyId }));
app.get("/miss", miss, (req, res) => res.json({ key: req.keyseal.keyId }));
const server = app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
