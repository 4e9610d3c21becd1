// Runs the example on 127.0.0.1:3000 with secrets from the environment.
import { createApp } from "./app.mjs";

const need = (name) => process.env[name] ?? (console.error(`set ${name}`), process.exit(1));
const { app, issueKey } = createApp({ tokenSecret: need("TOKEN_SECRET"), pepperSecret: need("PEPPER_SECRET") });
const key = issueKey({ owner: "demo", scopes: ["items:*"] });
app.listen(3000, "127.0.0.1", () => {
  console.log("listening on http://127.0.0.1:3000");
  console.log(`demo key (shown once): ${key.expose()}`);
});
