// Runs inside workerd (through Miniflare): KeysealClient on workerd's own fetch, calling a
// `keyseal serve` on the loopback address, with the scenario Node runs too.
import * as api from "../../../packages/npm/src/wasm.mjs";
import { clientScenario } from "../client-scenario.mjs";

export default {
  async fetch(request) {
    return Response.json(await clientScenario(api, await request.json()));
  },
};
