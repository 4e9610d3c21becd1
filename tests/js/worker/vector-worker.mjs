// Runs inside workerd (through Miniflare): the wasm build loaded the way Workers load it
// (static import of the compiled module), driven by the same vector runner as Node.
import * as api from "../../../packages/npm/src/wasm.mjs";
import { apiChecks } from "../checks.mjs";
import { runVectorFiles } from "../vectors.mjs";

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/vectors") {
      return Response.json(runVectorFiles(api, await request.json()));
    }
    if (pathname === "/checks") {
      return Response.json(await apiChecks(api, await request.json()));
    }
    if (pathname === "/exports") {
      return Response.json(Object.keys(api).sort());
    }
    return new Response("not found", { status: 404 });
  },
};
